"""Data: exemplar and content images (images.py) and MNIST (mnist.py)."""

from synthlab.data.images import fit_max_side, load_image, resize

__all__ = ["fit_max_side", "load_image", "resize"]
