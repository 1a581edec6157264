"""Losses as small critics: set a target, then score the current image."""

from synthlab.losses.gram import ContentCritic, GramCritic, gram
from synthlab.losses.patches import PatchCritic, ReferencePatchCritic, match
from synthlab.losses.smooth import tv_loss

__all__ = ["ContentCritic", "GramCritic", "gram", "PatchCritic", "ReferencePatchCritic", "match", "tv_loss"]
