"""Total-variation smoothness, TV^beta (beta = 1.25 in Neural Doodle)."""

import torch


def tv_loss(x: torch.Tensor, beta: float = 1.25, wrap: bool = False) -> torch.Tensor:
    """mean(((x[:-1,:-1]-x[1:,:-1])^2 + (x[:-1,:-1]-x[:-1,1:])^2)^(beta)) over (B, C, H, W);
    wrap: every pixel, its right and lower neighbours taken around the edges (a seamless tile)."""
    if wrap:
        d = (x - x.roll(-1, -2)) ** 2 + (x - x.roll(-1, -1)) ** 2
    else:
        c = x[..., :-1, :-1]
        d = (c - x[..., 1:, :-1]) ** 2 + (c - x[..., :-1, 1:]) ** 2
    return d.pow(beta).mean()
