"""Data: exemplar images now; MNIST joins here."""

from synthlab.data.images import fit_max_side, load_image, resize

__all__ = ["fit_max_side", "load_image", "resize"]
