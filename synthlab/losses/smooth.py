"""Total-variation smoothness, TV^beta (beta = 1.25 in Neural Doodle)."""

import torch


def tv_loss(x: torch.Tensor, beta: float = 1.25) -> torch.Tensor:
    """mean(((x[:-1,:-1]-x[1:,:-1])^2 + (x[:-1,:-1]-x[:-1,1:])^2)^(beta)) over (B, C, H, W)."""
    c = x[..., :-1, :-1]
    d = (c - x[..., 1:, :-1]) ** 2 + (c - x[..., :-1, 1:]) ** 2
    return d.pow(beta).mean()
