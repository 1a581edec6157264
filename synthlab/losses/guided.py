"""Guided Correspondence (Zhou, Chen, Xiao and Huang, CVPR 2023), on 3x3 feature patches.

Distance of an output patch i to an exemplar patch j: d_ij = (1 - s_ij) / 2, s_ij the mean
cosine of their 9 pixel feature vectors, each centred by the exemplar's mean feature (a random
ReLU/ELU net's features all point one way; uncentred, every cosine is near 1). An occurrence
penalty adds `occurrence` x (how many output patches chose j) / (outputs per exemplar patch)
to every d_ij, so over-used exemplar patches lose to unused ones (the counts are the previous
evaluation's, as doodle.py's variety uses the previous matching's scores). The loss is the
contextual one: d normalised by each row's minimum, w = exp((1 - d / d_min) / h), and
-log(w_best / sum_j w_ij) averaged over output patches: the best match must stand out from
the rest, not only be near.

Cost: the exact sum runs over every exemplar patch. Here a no-grad pass over cache-sized
blocks of the score matrix keeps each row's `candidates` nearest (penalised) exemplar patches
and the loss is computed on those alone: the terms it drops have w <= w_k, which decays as
exp(-(d_k / d_min - 1) / h).
"""

import torch
import torch.nn.functional as F

from synthlab.errors import SynthlabError
from synthlab.losses.critic import Critic
from synthlab.losses.patches import EPS, chunk_rows


def unit(feat: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (1, C, H, W): each pixel's centred feature vector over 3 x its norm, so
    a 3x3 patch's dot product is its mean pixel cosine."""
    f = feat - mean
    return f / (3 * f.norm(dim=1, keepdim=True).clamp_min(EPS))


class GuidedLayer:
    def __init__(self, h: float, occurrence: float, candidates: int, budget_mb: float):
        self.h, self.occurrence, self.candidates, self.budget_mb = h, occurrence, candidates, budget_mb
        self.mean = self.style = self.counts = None

    def set_target(self, feat: torch.Tensor) -> None:
        self.mean = feat.detach().mean(dim=(2, 3), keepdim=True)
        self.style = F.unfold(unit(feat.detach(), self.mean), 3)[0].t().contiguous()  # (M, 9C)
        self.counts = None  # a new phase counts afresh

    @torch.no_grad()
    def nearest(self, cur: torch.Tensor) -> torch.Tensor:
        """(N, k) indices of each output patch's k nearest exemplar patches by penalised distance;
        with an occurrence penalty, updates its counts from the unpenalised nearest."""
        n, m = cur.shape[0], self.style.shape[0]
        k = min(self.candidates, m)
        pen = None
        if self.occurrence and self.counts is not None:  # in score units: s = 1 - 2d
            pen = (2 * self.occurrence * m / n) * self.counts
        idx = torch.empty(n, k, dtype=torch.long, device=cur.device)
        first = torch.empty(n, dtype=torch.long, device=cur.device) if self.occurrence else None
        rows = chunk_rows(m, self.budget_mb)
        for i in range(0, n, rows):
            s = cur[i:i + rows] @ self.style.t()
            if first is not None:  # the counts are only the occurrence penalty's
                first[i:i + rows] = s.argmax(1)
            if pen is not None:
                s -= pen
            idx[i:i + rows] = s.topk(k, dim=1).indices
        if first is not None:
            self.counts = torch.bincount(first, minlength=m).to(cur.dtype)
        return idx

    def loss(self, feat: torch.Tensor) -> torch.Tensor:
        cur = F.unfold(unit(feat, self.mean), 3)[0].t()  # (N, 9C), differentiable
        if self.counts is None and self.occurrence:  # warm-up: the first evaluation counts first
            self.nearest(cur.detach())
        idx = self.nearest(cur.detach())
        s = torch.einsum("nd,nkd->nk", cur, self.style[idx])
        d = (1 - s) / 2
        if self.occurrence:
            n, m = cur.shape[0], self.style.shape[0]
            d = d + (self.occurrence * m / n) * self.counts[idx]
        d = d.clamp_min(0)
        d_norm = d / (d.amin(1, keepdim=True) + 1e-5)
        # -log(max_j A_ij) with A = softmax((1 - d_norm) / h): a logsumexp, stable
        z = (1 - d_norm) / self.h
        return (torch.logsumexp(z, 1) - z.amax(1)).mean()


class GuidedCritic(Critic):
    """Guided Correspondence on each tapped layer, summed, times weight.

    h: bandwidth of the contextual similarity (the paper's 0.5); occurrence: weight of the
    penalty on over-used exemplar patches (the paper's 0.05); candidates: exemplar patches per
    output patch in the loss; budget_mb: memory for one block of scores."""

    reach = 1  # 3x3 patches

    def __init__(self, taps, *, weight: float, h: float, occurrence: float, candidates: int, budget_mb: float):
        super().__init__(taps, weight=weight)
        if not isinstance(candidates, int) or isinstance(candidates, bool) or candidates < 2:
            raise SynthlabError(f"GuidedCritic: candidates must be an integer >= 2, got {candidates!r}")
        h, occurrence = self.number("h", h, positive=True), self.number("occurrence", occurrence)
        budget_mb = self.number("budget_mb", budget_mb, positive=True)
        self.parts = {t: GuidedLayer(h, occurrence, candidates, budget_mb) for t in self.taps}

    def set_target(self, feats):
        for t, p in self.parts.items():
            p.set_target(feats[t])

    def loss(self, feats):
        return self.weight * sum(p.loss(feats[t]) for t, p in self.parts.items())
