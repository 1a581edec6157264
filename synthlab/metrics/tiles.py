"""Seams: does an image tile? The energy of the differences across its wrap-around edges (last
column to first, last row to first) over that of the differences between neighbours inside
it. A seamless tile scores about 1; an image cut from a larger texture usually scores above."""

import torch


@torch.no_grad()
def seam_ratio(img: torch.Tensor) -> float:
    """(C, H, W) -> seam energy / interior energy (mean squared neighbour differences)."""
    x = img.detach().double().cpu()
    inner = torch.cat([(x[:, 1:] - x[:, :-1]).flatten(), (x[:, :, 1:] - x[:, :, :-1]).flatten()])
    seam = torch.cat([(x[:, 0] - x[:, -1]).flatten(), (x[:, :, 0] - x[:, :, -1]).flatten()])
    return float((seam ** 2).mean() / (inner ** 2).mean().clamp(min=1e-12))


def tiled(img: torch.Tensor, n: int = 3) -> torch.Tensor:
    """n x n copies side by side: what a user sees when the tile repeats."""
    return img.repeat(1, n, n)
