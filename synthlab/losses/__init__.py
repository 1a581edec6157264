"""Losses as small critics: set a target, then score the current image."""

from synthlab.losses.patches import PatchCritic, match
from synthlab.losses.smooth import tv_loss

__all__ = ["PatchCritic", "match", "tv_loss"]
