"""Colour grain: high-frequency chroma, the pink and green dots a synthesis can leave on a
grey or near-grey texture that the feature nets do not see.

grain(img): the chroma channels (Cb, Cr of BT.601, in 0..255 units) minus their 3x3 box blur,
RMS over pixels and both channels. grain_ratio: the output's over the exemplar's; the
exemplar's own grain is floored at 0.5 (a perfectly grey exemplar has none, and any dot would
be an infinite ratio), so a ratio reads as "times the exemplar's chroma noise".
"""

import torch
import torch.nn.functional as F

FLOOR = 0.5  # 0..255 units: about the chroma noise of an 8-bit grey photo after JPEG


def chroma(img: torch.Tensor) -> torch.Tensor:
    """(3, H, W) RGB in [0, 1] -> (2, H, W) Cb, Cr in 0..255 units (offsets dropped)."""
    r, g, b = (img.double() * 255).unbind(0)
    cb = -0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 * r - 0.418688 * g - 0.081312 * b
    return torch.stack([cb, cr])


@torch.no_grad()
def grain(img: torch.Tensor) -> float:
    c = chroma(img.detach().cpu())[:, None]
    blur = F.avg_pool2d(F.pad(c, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    return float(((c - blur) ** 2).mean().sqrt())


def grain_ratio(output: torch.Tensor, exemplar: torch.Tensor) -> dict:
    g, ge = grain(output), grain(exemplar)
    return {"grain": g, "grain_exemplar": ge, "grain_ratio": g / max(ge, FLOOR)}
