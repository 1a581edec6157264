"""Gatys-style critics: Gram matrices for style, plain feature MSE for content."""

import torch
import torch.nn.functional as F

from synthlab.errors import SynthlabError
from synthlab.losses.critic import Critic


def gram(feat: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (C, C) / (C * H * W): size-independent, so any output size compares."""
    _, c, h, w = feat.shape
    f = feat.reshape(c, h * w)
    return f @ f.t() / (c * h * w)


class GramCritic(Critic):
    """Sum over layers of layer_weight * |G(f) - G(target)|^2, times weight."""

    def __init__(self, taps, *, weight: float, layer_weights):
        super().__init__(taps, weight=weight)
        lw = [1.0] * len(self.taps) if layer_weights is None else [float(v) for v in layer_weights]
        if len(lw) != len(self.taps):
            raise SynthlabError(f"GramCritic: layer_weights has {len(lw)} values for {len(self.taps)} taps")
        self.layer_weights = dict(zip(self.taps, lw))
        self.targets = {}

    def set_target(self, feats):
        self.targets = {l: gram(feats[l]).detach() for l in self.taps}

    def loss(self, feats):
        return self.weight * sum(w * F.mse_loss(gram(feats[l]), self.targets[l], reduction="sum")
                                 for l, w in self.layer_weights.items())


class ContentCritic(Critic):
    """MSE to the content image's features: conv maps or fc vectors alike."""

    image = "content"

    def __init__(self, taps, *, weight: float):
        super().__init__(taps, weight=weight)
        self.targets = {}

    def set_target(self, feats):
        self.targets = {l: feats[l].detach() for l in self.taps}

    def loss(self, feats):
        return self.weight * sum(F.mse_loss(feats[l], self.targets[l]) for l in self.taps)
