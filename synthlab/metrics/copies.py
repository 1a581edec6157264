"""Verbatim-copy share: how much of an output is the exemplar pasted back almost unchanged.

For each s x s output patch (stride s/2) we find the best normalised cross-correlation (NCC,
over all 3*s*s values, mean removed) against every s x s exemplar window at stride 1, with
FFT correlation. A patch counts as copied when that NCC is at least `threshold` (0.9 by
default: a shifted crop scores 1.0; the same texture rearranged stays far below).
"""

import torch


def _box(x, s):
    """Sums over every s x s window of (C, H, W), valid positions: (H-s+1, W-s+1)."""
    c = torch.nn.functional.pad(x.sum(0).cumsum(0).cumsum(1), (1, 0, 1, 0))
    return c[s:, s:] - c[:-s, s:] - c[s:, :-s] + c[:-s, :-s]


@torch.no_grad()
def best_ncc(output: torch.Tensor, exemplar: torch.Tensor, s: int, stride: int | None = None,
             batch: int = 16) -> torch.Tensor:
    """Best NCC of each s x s output patch anywhere in the exemplar. (3, H, W) inputs."""
    out, ex = output.double().cpu(), exemplar.double().cpu()
    stride = stride or max(1, s // 2)
    _, H, W = ex.shape
    _, h, w = out.shape
    if min(H, W, h, w) < s:
        return torch.empty(0, dtype=torch.float64)
    n = 3 * s * s
    # exemplar window energy after removing the window mean
    e_sum, e_sq = _box(ex, s), _box(ex * ex, s)
    e_var = (e_sq - e_sum**2 / n).clamp_min(1e-12)
    fe = torch.fft.rfft2(ex)
    ys = range(0, h - s + 1, stride)
    xs = range(0, w - s + 1, stride)
    ps = torch.stack([out[:, y:y + s, x:x + s] for y in ys for x in xs])
    ps = ps - ps.mean(dim=(1, 2, 3), keepdim=True)
    p_norm = ps.flatten(1).norm(dim=1).clamp_min(1e-12)
    best = []
    for i in range(0, len(ps), batch):
        p = ps[i:i + batch]
        fp = torch.fft.rfft2(p, s=(H, W))
        # circular cross-correlation; offsets [0, H-s] x [0, W-s] do not wrap
        corr = torch.fft.irfft2(fe[None] * fp.conj(), s=(H, W)).sum(1)[:, :H - s + 1, :W - s + 1]
        ncc = corr / (p_norm[i:i + batch, None, None] * e_var.sqrt()[None])
        best.append(ncc.flatten(1).amax(1))
    return torch.cat(best)


def copy_share(output, exemplar, s: int, threshold: float = 0.9) -> float:
    """Share of the output's s x s patches that appear in the exemplar with NCC >= threshold."""
    b = best_ncc(output, exemplar, s)
    return float((b >= threshold).double().mean()) if len(b) else 0.0


def copy_shares(output, exemplar, sizes=(32, 64), threshold: float = 0.9) -> dict:
    return {f"copy{s}": copy_share(output, exemplar, s, threshold) for s in sizes}
