"""Sliced Wasserstein distance between the patch statistics of two images (Karras et al. 2018).

Laplacian pyramid (5x5 binomial, mirror padding) down to 16 px; at each level, equal numbers
of random 7x7x3 neighbourhoods from both images; 4 x 128 random unit directions; sorted
projections; mean |difference| x 1e3 per level, then the mean over levels.

One deliberate change from progressive_growing_of_gans: both descriptor sets are normalised
with the *exemplar's* per-channel mean and std, not each with its own, so a global colour or
contrast shift of the output still counts against it.

Reading it: the low-pass level compares only ~100 neighbourhoods of a 16 px image, so it is
mostly which coarse layout each image happens to have: it swings with the seed and the
recipe at the same coarse contrast, and a true rearrangement of the exemplar's own pixels
(`floor`: the exemplar rolled by half) scores ~340 there, more than most syntheses. `band`
(the band-pass levels alone) is the steadier figure; `floor` is the scale to read SWD by.
"""

import torch
import torch.nn.functional as F

_K = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
KERNEL = (_K[:, None] * _K[None, :]) / 256.0


def _blur(x):
    k = KERNEL.to(x).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])


def n_levels(h: int, w: int, min_size: int = 16) -> int:
    """Levels of a pyramid that halves min(h, w) while it stays at least min_size."""
    n, m = 1, min(h, w)
    while m // 2 >= min_size:
        n, m = n + 1, m // 2
    return n


def laplacian_pyramid(img: torch.Tensor, levels: int):
    """(1, C, H, W) -> `levels` images: band-pass levels, finest first, then the low-pass residual."""
    out, x = [], img
    for _ in range(levels - 1):
        down = _blur(x)[..., ::2, ::2]
        up = F.interpolate(down, size=x.shape[-2:], mode="bilinear", align_corners=False)
        out.append(x - up)
        x = down
    out.append(x)
    return out


def _descriptors(level, n, patch, gen):
    _, c, h, w = level.shape
    ys = torch.randint(0, h - patch + 1, (n,), generator=gen)
    xs = torch.randint(0, w - patch + 1, (n,), generator=gen)
    off = torch.arange(patch)
    rows = (ys[:, None] + off)[:, :, None].expand(n, patch, patch)
    cols = (xs[:, None] + off)[:, None, :].expand(n, patch, patch)
    return level[0][:, rows, cols].permute(1, 0, 2, 3)  # (n, C, patch, patch)


def _sliced(a, b, n_dirs, repeats, gen):
    a, b = a.flatten(1), b.flatten(1)
    dists = []
    for _ in range(repeats):
        d = torch.randn(a.shape[1], n_dirs, generator=gen, dtype=a.dtype)
        d /= d.norm(dim=0, keepdim=True)
        pa, _ = torch.sort(a @ d, dim=0)
        pb, _ = torch.sort(b @ d, dim=0)
        dists.append((pa - pb).abs().mean())
    return float(torch.stack(dists).mean())


@torch.no_grad()
def swd(output: torch.Tensor, exemplar: torch.Tensor, n: int = 4096, patch: int = 7,
        n_dirs: int = 128, repeats: int = 4, seed: int = 0) -> dict:
    """SWD x 1e3 between (3, H, W) images in [0, 1]; lower is closer. Deterministic per seed."""
    gen = torch.Generator().manual_seed(seed)
    k = min(n_levels(*output.shape[-2:]), n_levels(*exemplar.shape[-2:]))
    po = laplacian_pyramid(output[None].double().cpu(), k)
    pe = laplacian_pyramid(exemplar[None].double().cpu(), k)
    levels = []
    for lo, le in zip(po, pe):
        if min(lo.shape[-2:] + le.shape[-2:]) < patch:
            break
        do = _descriptors(lo, n, patch, gen)
        de = _descriptors(le, n, patch, gen)
        mean = de.mean(dim=(0, 2, 3), keepdim=True)
        std = de.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
        levels.append(1e3 * _sliced((do - mean) / std, (de - mean) / std, n_dirs, repeats, gen))
    band = levels[:-1] or levels
    return {"levels": levels, "mean": sum(levels) / len(levels), "band": sum(band) / len(band)}


def floor(exemplar: torch.Tensor, **kw) -> dict:
    """swd() of the exemplar rolled by half its size against itself: its own pixels in a new
    arrangement (two seams, nothing invented), what a perfect synthesis might score."""
    h, w = exemplar.shape[-2:]
    return swd(exemplar.roll((h // 2, w // 2), dims=(-2, -1)), exemplar, **kw)
