"""Quality measures that need no pretrained network."""

from synthlab.metrics.colour import grain, grain_ratio
from synthlab.metrics.complexity import complexity
from synthlab.metrics.copies import best_ncc, copy_share, copy_shares
from synthlab.metrics.swd import floor as swd_floor
from synthlab.metrics.swd import laplacian_pyramid, swd

__all__ = ["grain", "grain_ratio", "complexity", "best_ncc", "copy_share", "copy_shares", "laplacian_pyramid", "swd",
           "swd_floor"]
