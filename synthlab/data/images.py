"""Load exemplar images from any path (or skimage's offline photos) as RGB float tensors."""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from synthlab.checks import image_source
from synthlab.errors import SynthlabError


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any PIL mode -> float32 (H, W, 3) in [0, 1]. Alpha is dropped (composited over black
    would darken edges; the texture is in the colour channels)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(img, dtype=np.float32) / 65535.0
    elif img.mode in ("I", "F"):
        a = np.asarray(img, dtype=np.float32)
        hi = 65535.0 if a.max() > 255 else 255.0
        lo, top = (float(np.nanmin(a)), float(np.nanmax(a))) if np.isfinite(a).any() else (0.0, 1.0)
        a = a / hi if img.mode == "I" else (a - lo) / max(top - lo, 1e-12)
    else:
        if img.mode == "P":
            img = img.convert("RGBA")
        a = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return np.where(np.isfinite(a), np.clip(a, 0.0, 1.0), a)  # non-finite values are refused by name


def load_image(spec: str) -> torch.Tensor:
    """Path or `skimage:NAME` -> (3, H, W) float32 in [0, 1]; EXIF rotation applied."""
    spec = image_source(spec, "exemplar")
    if spec.startswith("skimage:"):
        name = spec.split(":", 1)[1]
        import skimage.data

        a = getattr(skimage.data, name)().astype(np.float32) / 255.0
        a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a[..., :3]
    else:
        path = Path(spec).expanduser()
        try:
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img)
                img.load()
                a = _to_rgb_array(img)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
            raise SynthlabError(f"cannot read image {path}: {e}") from None
    if min(a.shape[:2]) < 1:
        raise SynthlabError(f"image {spec} is empty ({a.shape[1]}x{a.shape[0]})")
    bad = int((~np.isfinite(a)).any(axis=2).sum())
    if bad:  # a float TIFF can hold NaN or infinity: every loss would turn NaN
        raise SynthlabError(f"image {spec} has {bad} pixel(s) that are not finite (NaN or infinity)")
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).contiguous()


def resize(img: torch.Tensor, size, mode: str = "bilinear") -> torch.Tensor:
    """(C, H, W) or (B, C, H, W) -> size (h, w); antialiased when shrinking."""
    x = img[None] if img.dim() == 3 else img
    size = (int(size[0]), int(size[1]))
    if tuple(x.shape[-2:]) != size:
        x = F.interpolate(x, size=size, mode=mode, align_corners=False,
                          antialias=mode in ("bilinear", "bicubic"))
    return x[0] if img.dim() == 3 else x


def fit_max_side(img: torch.Tensor, max_side) -> torch.Tensor:
    """Shrink so the longer side is at most max_side (None keeps the image as it is)."""
    h, w = img.shape[-2:]
    if not max_side or max(h, w) <= max_side:
        return img
    s = max_side / max(h, w)
    return resize(img, (max(1, round(h * s)), max(1, round(w * s))))
