"""The feature-net contract that critics tap, with taps at coarser scales.

A feature net names its layers (`names`), computes some of them for one image (`compute`),
says how large a layer is for an input size (`layer_size`) and how small an input it takes
(`min_size`). Everything else is here, once for every net.

A tap is a layer name, or a layer at a coarser scale: `conv3_1@4` is conv3_1 of the image
average-pooled by 4. A random net's deepest layers see ~20 px; a tap at @4 sees the same
structures 4x larger, at 1/16 of the cost, so a critic can hold the exemplar's large-scale
statistics (colour blotches, spacing of objects) that no full-scale layer sees. The task
still runs the net once per scale per evaluation, whatever the number of critics.

Every net also has the layer `image`: its input itself (`image@2`: pooled by 2), so a critic
can hold pixel statistics, which pooled random features do not see.
"""

import torch
import torch.nn.functional as F
from torch import nn

from synthlab.errors import SynthlabError

SCALES = (1, 2, 4, 8, 16, 32)
IMAGE = "image"  # the input, a layer of every net


def split(tap: str) -> tuple:
    """'conv3_1@4' -> ('conv3_1', 4); 'conv3_1' -> ('conv3_1', 1). The scale is not checked here
    (check_taps names one that is not a number, or empty, with the valid ones)."""
    layer, at, scale = str(tap).partition("@")
    return layer, (int(scale) if scale.isdigit() else scale) if at else 1


def downsample(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Average of each scale x scale block: differentiable and cheap; the remainder rows and
    columns are dropped (floor), as strided layers do."""
    return x if scale == 1 else F.avg_pool2d(x, scale)


class FeatureNet(nn.Module):
    """Base of every feature net: subclasses give `names`, `compute(x, names)` and, when the
    layers change size, `layer_size`."""

    min_size = 1   # input side the net needs (e.g. its largest filter)
    label = "network"  # how errors name the net (network=random_conv, ...)
    names: list

    def compute(self, x: torch.Tensor, names) -> dict:
        """Features of these layers (no scale) for x: {name: (1, C, H, W) or (1, N)}."""
        raise NotImplementedError

    def layer_size(self, h: int, w: int, layer: str) -> tuple:
        return h, w

    def check_taps(self, taps) -> None:
        bad = [t for t in taps if split(t)[0] not in self.names and split(t)[0] != IMAGE]
        if bad:
            raise SynthlabError(f"unknown layer(s) {bad} of {self.label}; its layers are {self.names} and {IMAGE}, "
                                f"each also at a coarser scale (e.g. {self.names[0]}@4)")
        bad = [t for t in taps if split(t)[1] not in SCALES]
        if bad:
            raise SynthlabError(f"tap(s) {bad}: the scale after @ must be one of {list(SCALES)}")

    def input_size(self, h: int, w: int, tap: str) -> tuple:
        """The image size the net sees for this tap."""
        s = split(tap)[1]
        return h // s, w // s

    def feature_size(self, h: int, w: int, tap: str) -> tuple:
        layer = split(tap)[0]
        hw = self.input_size(h, w, tap)
        return hw if layer == IMAGE else self.layer_size(*hw, layer)

    def wrap(self) -> None:
        """Seamless tiles: every padded conv pads circularly, so a periodic image has periodic
        features (pooling and strided layers need no padding). Nets that cannot say so."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.padding != (0, 0):
                m.padding_mode = "circular"

    def period(self, tap: str) -> int:
        """What a periodic image's sides must be multiples of for this tap's features to be
        periodic too: its scale times the layer's downsampling."""
        layer, scale = split(tap)
        return scale * (1024 // self.feature_size(1024, 1024, layer)[0])

    def forward(self, x: torch.Tensor, taps) -> dict:
        """Features of the taps, keyed by tap: the net runs once per scale."""
        self.check_taps(taps)
        by_scale = {}
        for t in taps:
            by_scale.setdefault(split(t)[1], []).append(t)
        out = {}
        for s, ts in by_scale.items():
            xs = downsample(x, s)
            layers = [split(t)[0] for t in ts if split(t)[0] != IMAGE]
            feats = {IMAGE: xs, **(self.compute(xs, layers) if layers else {})}
            out.update({t: feats[split(t)[0]] for t in ts})
        return out
