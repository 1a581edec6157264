"""Render coordinate networks at any resolution, and animate them.

The field is sampled in tiles of whole rows (`tile` points at most), written straight into
the output buffer, so memory beyond that buffer does not grow with the image. No autograd;
any device. A tiled render equals the one-pass render (each point's computation does not
depend on the tile it is in).
"""

import math

import torch

from synthlab.errors import SynthlabError
from synthlab.memory import require


def check_size(h: int, w: int, channels: int, frames: int = 1, bytes_per=4) -> None:
    """Refuse impossible sizes before allocating anything, saying how much memory is needed."""
    if h <= 0 or w <= 0:
        raise SynthlabError(f"image size must be positive, got {h}x{w}")
    require(h * w * channels * frames * bytes_per, f"a {w}x{h} render ({channels} channels, {frames} frame(s))",
            "render a smaller size or fewer frames at once")


@torch.no_grad()
def render(net, coords, h: int, w: int, z: torch.Tensor | None = None, tile: int = 1 << 18,
           out: torch.Tensor | None = None, fn=None) -> torch.Tensor:
    """(B, C, h, w) float32 on the CPU: net(points, z) evaluated on every pixel, tile by tile.

    z: (B, z_dim) or None (B = 1). tile: (image, point) pairs per evaluation (rows are never
    split). fn: what evaluates the net, e.g. compiled(net); the net itself by default."""
    fn = net if fn is None else fn
    check_size(h, w, net.channels, 1 if z is None else len(z))
    device = next(net.parameters()).device
    b = 1 if z is None else len(z)
    if z is not None:
        z = z.to(device)
    out = torch.empty(b, net.channels, h, w) if out is None else out
    rows = max(1, tile // (w * b))  # a batch of frames shares the tile: the working set stays cache-sized
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        pts = coords.points(h, w, r0, r1, device)
        y = fn(pts, z) if net.z_dim else fn(pts).expand(b, -1, -1)
        out[:, :, r0:r1] = y.reshape(b, net.channels, r1 - r0, w).float().cpu()
    return out


def ease(t: torch.Tensor, easing: str) -> torch.Tensor:
    if easing == "linear":
        return t
    if easing == "sine":
        return torch.sin(t * math.pi / 2)  # hardmaru's `sinusoid=True`
    raise SynthlabError(f"unknown easing {easing!r}; choose linear or sine")


def timeline(frames: int, easing: str = "sine", pingpong: bool = False) -> torch.Tensor:
    """Interpolation weights t in [0, 1], one per frame; ping-pong appends the way back."""
    if frames < 2:
        raise SynthlabError(f"an animation needs at least 2 frames, got {frames}")
    t = ease(torch.linspace(0, 1, frames), easing)
    return torch.cat([t, t.flip(0)[1:-1]]) if pingpong else t


def to_uint8(img: torch.Tensor, invert: bool = False) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> (H, W, C) uint8; grey stays one channel."""
    img = 1 - img if invert else img
    return (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0)


def save_gif(path, frames, fps: float = 24.0, invert: bool = False):
    """Frames (iterable of (C, H, W) in [0, 1]) -> looping GIF, written atomically."""
    from PIL import Image

    from synthlab.io import atomic_write

    imgs = []
    for f in frames:
        a = to_uint8(f, invert).numpy()
        imgs.append(Image.fromarray(a[..., 0] if a.shape[2] == 1 else a))
    if not imgs:
        raise SynthlabError("no frames to write")
    dur = max(20, round(1000 / fps))
    atomic_write(path, lambda tmp: imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:],
                                                duration=dur, loop=0))
    return path


def video_ready() -> None:
    """MP4 needs imageio-ffmpeg, installed with the `video` extra; one line if it is missing."""
    try:
        import imageio.v2  # noqa: F401
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        raise SynthlabError("MP4 needs the video extra: pip install -e '.[video]'") from None


def save_mp4(path, frames, fps: float = 24.0, invert: bool = False):
    """MP4 (H.264) through imageio-ffmpeg, written atomically."""
    video_ready()
    import imageio.v2 as imageio

    from synthlab.io import atomic_write

    def write(tmp):
        with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", macro_block_size=1) as wr:
            for f in frames:
                a = to_uint8(f, invert).numpy()
                wr.append_data(a.repeat(3, 2) if a.shape[2] == 1 else a)

    return atomic_write(path, write)


def compiled(net):
    """The net's forward compiled by torch.compile (fused elementwise layers), for render's fn:
    faster renders on a CPU after seconds of compiling (`synthlab bench cppn`). Needs
    a C++ compiler on CPU; the result equals the eager render to float rounding. The net itself
    is left as it is."""
    return torch.compile(net.forward, dynamic=True)


def grid(imgs: torch.Tensor, nrow: int = 10, pad: int = 2) -> torch.Tensor:
    """(B, 1, h, w) -> (1, H, W) contact sheet."""
    b, c, h, w = imgs.shape
    rows = (b + nrow - 1) // nrow
    out = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i, im in enumerate(imgs):
        y, x = divmod(i, nrow)
        out[:, pad + y * (h + pad): pad + y * (h + pad) + h, pad + x * (w + pad): pad + x * (w + pad) + w] = im
    return out


def render_digits(G, z, h: int, w: int, scale: float, tile: int = 1 << 18) -> torch.Tensor:
    """One h x w render per z over the training coordinate range [-scale, scale]: (B, C, h, w)."""
    from synthlab.nets.cppn import Coords

    return render(G, Coords("symmetric", scale, 1.0, G.in_dim == 3), h, w, z, tile)
