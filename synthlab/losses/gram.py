"""Gatys-style critics: Gram matrices for style, plain feature MSE for content."""

import torch
import torch.nn.functional as F


def gram(feat: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (C, C) / (C * H * W): size-independent, so any output size compares."""
    _, c, h, w = feat.shape
    f = feat.reshape(c, h * w)
    return f @ f.t() / (c * h * w)


class GramCritic:
    def __init__(self, layer: str, weight: float = 1.0):
        self.layer, self.weight, self.target = layer, weight, None

    def set_target(self, feat: torch.Tensor) -> None:
        self.target = gram(feat).detach()

    def loss(self, feat: torch.Tensor) -> torch.Tensor:
        return self.weight * F.mse_loss(gram(feat), self.target, reduction="sum")


class ContentCritic:
    """MSE to the content image's features: conv maps or fc vectors alike."""

    def __init__(self, layer: str, weight: float = 1.0):
        self.layer, self.weight, self.target = layer, weight, None

    def set_target(self, feat: torch.Tensor) -> None:
        self.target = feat.detach()

    def loss(self, feat: torch.Tensor) -> torch.Tensor:
        return self.weight * F.mse_loss(feat, self.target)
