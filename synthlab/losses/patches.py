"""Neural Patches: nearest-neighbour matching of 3x3 feature patches (Neural Doodle, random branch).

Score of a current patch against a style patch = mean over its 9 positions of the per-pixel
cosine similarity (each pixel's feature vector divided by 3 * its norm, as doodle.py does).
The match is the best score minus `variety` times how well that style patch was matched at the
previous evaluation; the loss pulls the raw (unnormalised) patches towards their matches.
"""

import torch
import torch.nn.functional as F

EPS = 1e-8  # doodle.py has none; it only guards all-zero feature vectors (dead ReLU pixels)


def patches(feat: torch.Tensor, k: int = 3) -> torch.Tensor:
    """(1, C, H, W) -> (N, C*k*k) valid k x k patches, row-major positions."""
    return F.unfold(feat, k).squeeze(0).t()


def normalised_patches(feat: torch.Tensor, k: int = 3) -> torch.Tensor:
    norm = feat.norm(dim=1, keepdim=True).clamp_min(EPS)
    return patches(feat / (k * norm), k)


def chunk_rows(n_cols: int, budget_mb: float) -> int:
    """Rows of an n_cols-wide fp32 score block that fit in budget_mb."""
    return max(1, int(budget_mb * 2**20 // (4 * max(1, n_cols))))


@torch.no_grad()
def match(cur: torch.Tensor, style: torch.Tensor, history=None, variety: float = 0.0,
          budget_mb: float = 64.0):
    """Nearest style patch for each current patch, never holding the full N x M score matrix.

    cur (N, D) and style (M, D) are normalised patches. Returns (idx (N,), best_score (M,)):
    best_score[k] is style patch k's highest score against any current patch, the next
    evaluation's `history`.
    """
    rows = chunk_rows(style.shape[0], budget_mb)
    idx = torch.empty(cur.shape[0], dtype=torch.long, device=cur.device)
    best = torch.full((style.shape[0],), -float("inf"), device=cur.device)
    penalty = variety * history if (history is not None and variety) else None
    for i in range(0, cur.shape[0], rows):
        s = cur[i:i + rows] @ style.t()
        best = torch.maximum(best, s.amax(0))
        if penalty is not None:
            s -= penalty
        idx[i:i + rows] = s.argmax(1)
    return idx, best


class PatchCritic:
    """Patch loss on one layer: set_target(style features), then loss(current features)."""

    def __init__(self, layer: str, weight: float = 1.0, variety: float = 0.0, budget_mb: float = 64.0):
        self.layer, self.weight, self.variety, self.budget_mb = layer, weight, variety, budget_mb
        self.target = self.target_n = self.history = None

    def set_target(self, feat: torch.Tensor) -> None:
        self.target = patches(feat).detach()
        self.target_n = normalised_patches(feat).detach()
        self.history = None  # a new phase starts matching afresh

    def match(self, feat: torch.Tensor) -> torch.Tensor:
        cur = normalised_patches(feat.detach())
        if self.history is None and self.variety:
            # warm-up, as doodle.py: the first evaluation of a phase matches twice so the
            # variety penalty already has a history to work from
            _, self.history = match(cur, self.target_n, None, 0.0, self.budget_mb)
        idx, self.history = match(cur, self.target_n, self.history, self.variety, self.budget_mb)
        return idx

    def loss(self, feat: torch.Tensor) -> torch.Tensor:
        idx = self.match(feat)
        return self.weight * F.mse_loss(patches(feat), self.target[idx])
