"""Losses as small critics: set a target, then score the current image's features."""

from synthlab.losses.correlation import CorrelationCritic
from synthlab.losses.critic import Critic, active, taps
from synthlab.losses.gram import ContentCritic, GramCritic, gram
from synthlab.losses.guided import GuidedCritic
from synthlab.losses.patches import PatchCritic, ReferencePatchCritic, match
from synthlab.losses.sliced import SlicedCritic
from synthlab.losses.smooth import chroma_detail, tv_loss
from synthlab.losses.spectrum import SpectrumCritic

__all__ = ["Critic", "active", "taps", "ContentCritic", "CorrelationCritic", "GramCritic", "gram", "GuidedCritic",
           "PatchCritic", "ReferencePatchCritic", "match", "SlicedCritic", "SpectrumCritic", "tv_loss", "chroma_detail"]
