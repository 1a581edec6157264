"""How complex an image is: four cheap numbers, logged for every CPPN render.

- png_bpp: bits per pixel of the 8-bit image as a (max-compression) PNG: structure costs bits.
- grad: mean gradient magnitude (finite differences, values in [0, 1]).
- hf_share: share of the spectral energy (DC removed) above a quarter of the Nyquist radius.
- std: output standard deviation; near 0 is the 'grey goo' of small-init tanh nets.
"""

import io

import torch
from PIL import Image


def png_bpp(img: torch.Tensor) -> float:
    a = (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    buf = io.BytesIO()
    Image.fromarray(a[..., 0] if a.shape[2] == 1 else a).save(buf, format="PNG", optimize=True)
    return 8.0 * buf.tell() / (img.shape[1] * img.shape[2])


def grad_mean(img: torch.Tensor) -> float:
    dx = img[:, :, 1:] - img[:, :, :-1]
    dy = img[:, 1:, :] - img[:, :-1, :]
    return float(torch.sqrt(dx[:, :-1, :] ** 2 + dy[:, :, :-1] ** 2).mean())


def hf_share(img: torch.Tensor, cutoff: float = 0.25) -> float:
    x = img.double() - img.double().mean(dim=(1, 2), keepdim=True)
    p = torch.fft.rfft2(x).abs() ** 2
    fy = torch.fft.fftfreq(img.shape[1], dtype=torch.float64)[:, None]
    fx = torch.fft.rfftfreq(img.shape[2], dtype=torch.float64)[None, :]
    radius = torch.sqrt(fx**2 + fy**2) / 0.5  # 1.0 = Nyquist
    total = float(p.sum())
    return float(p[:, radius > cutoff].sum()) / total if total > 0 else 0.0


def complexity(img: torch.Tensor, max_side: int = 2048) -> dict:
    """(C, H, W) in [0, 1] -> the four measures, on the central max_side crop of big images
    (an 8K frame would spend a minute in PNG compression for the same figure)."""
    img = img.float().cpu()
    h, w = img.shape[1:]
    y, x = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
    img = img[:, y:y + max_side, x:x + max_side]
    return {"png_bpp": png_bpp(img), "grad": grad_mean(img), "hf_share": hf_share(img), "std": float(img.std())}
