"""The critic interface: a loss on the tapped layers of a feature network.

A task runs its feature net once per evaluation on the union of its critics' taps (the layers
they read, `conv3_1` or `conv3_1@4` for the image pooled by 4), hands each critic the features
(a dict: tap -> (1, C, H, W) tensor, or (1, N) for fc layers) and sums their losses. Targets
are set once per phase. A new loss is one subclass here plus one file in conf/critic/ (see
docs/architecture.md). "Critic" here is always such a loss; the GAN's is its discriminator.
"""

import math

import torch

from synthlab.errors import SynthlabError


class Critic:
    image = "style"  # which of the task's images the targets come from: "style" or "content"
    reach = 0  # pixels of neighbours each feature position is compared with (patches: 1), so a
               # seamless tile pads the output's features by this much, around the seam

    def __init__(self, taps, *, weight: float):
        if isinstance(taps, str) or not list(taps):
            raise SynthlabError(f"{type(self).__name__}: taps must be a non-empty list of layer names, got {taps!r}")
        self.taps, self.weight = [str(t) for t in taps], self.number("weight", weight)

    def number(self, key: str, v, positive: bool = False) -> float:
        """A finite number >= 0 (> 0 if positive), or one line naming this critic's key."""
        ok = (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
              and (v > 0 if positive else v >= 0))
        if not ok:
            raise SynthlabError(f"{type(self).__name__}: {key} must be a finite number "
                                f"{'> 0' if positive else '>= 0'}, got {v!r}")
        return float(v)

    def set_target(self, feats: dict) -> None:
        """The target's features for this phase (detached copies are kept)."""
        raise NotImplementedError

    def loss(self, feats: dict) -> torch.Tensor:
        """The weighted loss of the current image's features."""
        raise NotImplementedError

    def stats(self) -> dict:
        """Anything worth a line in metrics.json (e.g. the matmul dtype it chose)."""
        return {}


def taps(critics) -> list:
    """The taps a list of critics reads, each once, in order."""
    return list(dict.fromkeys(t for c in critics for t in c.taps))


def active(critics: dict, task: str, example: str) -> list:
    """The critics a task evaluates: weight 0 turns one off (it costs nothing, its layers are
    not computed). At least one must be left, or one line says what to use."""
    on = [c for c in critics.values() if c.weight]
    if not on:
        raise SynthlabError(f"the {task} task needs at least one critic with weight > 0: e.g. {example}")
    return on
