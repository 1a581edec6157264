"""The random feature network of "Extreme Style Machines": never trained, only tapped.

Stages of 48, 80, 112, 176 units (times `units`). Stage 1 is `convs[0]` 3x3 convolutions;
every later stage starts with the downsampling step (its first layer, convS_1) followed by
`convs[s] - 1` 3x3 convolutions. `depth` multiplies the 3x3 convolutions of each stage.
Layers are named convS_K and run in a plain chain; the default `convs` is the post's table.
"""

from collections import OrderedDict

import torch
from torch import nn

from synthlab.errors import SynthlabError
from synthlab.memory import require_layers, require_params
from synthlab.nets.features import FeatureNet
from synthlab.nets.layers import init_layers, run_taps


class RandomConvNet(FeatureNet):
    label = "network=random_conv"

    def __init__(self, activation, downsampling, init, *, units: float, depth: int,
                 widths, convs, seed: int, in_channels: int):
        super().__init__()
        if units <= 0:
            raise SynthlabError(f"network.units must be positive, got {units}")
        if depth < 1 or int(depth) != depth:
            raise SynthlabError(f"network.depth must be a positive integer, got {depth}")
        if len(widths) != len(convs) or min(convs) < 1:
            raise SynthlabError(f"network.widths {list(widths)} and network.convs {list(convs)} must "
                                "have equal length and every stage at least one layer")
        ws = [max(1, round(w * units)) for w in widths]
        require_layers(sum(convs) * depth, "network=random_conv")
        params = sum(9 * a * b * n * depth for a, b, n in zip([in_channels] + ws, ws, convs))
        require_params(params, "network=random_conv")
        layers = OrderedDict()
        c = in_channels
        for s, (w, n) in enumerate(zip(widths, convs), start=1):
            w = max(1, round(w * units))
            k = 1
            if s > 1:  # the downsampling step is the stage's first layer
                layers[f"conv{s}_1"] = nn.Sequential(downsampling(c, w), activation())
                c, k, n = w, 2, n - 1
            for _ in range(n * int(depth)):
                layers[f"conv{s}_{k}"] = nn.Sequential(nn.Conv2d(c, w, 3, padding=1), activation())
                c, k = w, k + 1
        self.layers = nn.ModuleDict(layers)
        init_layers(self, init, seed)
        self.requires_grad_(False)  # features only: the weights are never trained

    @property
    def names(self):
        return list(self.layers.keys())

    def layer_size(self, h: int, w: int, layer: str):
        """Every downsampling step floors H/2."""
        for _ in range(int(layer[4:].split("_")[0]) - 1):
            h, w = h // 2, w // 2
        return h, w

    def compute(self, x: torch.Tensor, names):
        """Post-activation features; stops after the deepest one asked for."""
        out = {}
        run_taps(self.layers.items(), x, set(names), out)
        return out
