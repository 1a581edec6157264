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


def chroma_detail(x: torch.Tensor, wrap: bool = False) -> torch.Tensor:
    """Energy of the high-frequency chroma of (1, 3, H, W) RGB: Cb and Cr (BT.601) minus their
    3x3 box blur, mean square. The pink and green dots that random feature nets leave."""
    import torch.nn.functional as F

    r, g, b = x.unbind(1)
    c = torch.stack([-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b], 1)
    blur = F.avg_pool2d(F.pad(c, (1, 1, 1, 1), mode="circular" if wrap else "replicate"), 3, stride=1)
    return ((c - blur) ** 2).mean()
