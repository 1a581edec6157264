"""Refuse sizes that cannot fit before allocating them, saying how much memory they need."""

import os

import torch

from synthlab.errors import SynthlabError


def free_bytes() -> int | None:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def require(need: float, what: str, hint: str) -> None:
    """SynthlabError when `need` bytes exceed 80% of the free memory (headroom for the rest)."""
    avail = free_bytes()
    if avail is not None and need > 0.8 * avail:
        raise SynthlabError(f"{what} needs about {need / 2**30:.1f} GiB, but only {avail / 2**30:.1f} GiB "
                            f"is free: {hint}")


MAX_LAYERS = 10_000  # far beyond any net here; 100k layers take minutes just to construct


def require_layers(n: int, what: str) -> None:
    """Refuse a network with so many layers that building it alone would take minutes."""
    if n > MAX_LAYERS:
        raise SynthlabError(f"{what} with {n} layers: at most {MAX_LAYERS}; use a smaller depth")


def require_params(n: float, what: str) -> None:
    """Refuse a network whose weights (and as much again for their initialisation) cannot fit."""
    require(8 * n, f"{what} with {n:.3g} parameters", "use a smaller width, depth or units")


@torch.no_grad()
def floats_per_pixel(forward, probe: int = 64) -> float:
    """Floats of every module output per input pixel, from one forward of a probe image (conv
    nets: activations grow linearly with the pixel count)."""
    counts = []
    mods = [m for m in forward.__self__.modules() if not list(m.children())]
    hooks = [m.register_forward_hook(lambda m, i, o: counts.append(o.numel() if torch.is_tensor(o) else 0))
             for m in mods]
    try:
        forward(torch.zeros(1, 3, probe, probe, device=next(forward.__self__.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    return sum(counts) / probe**2
