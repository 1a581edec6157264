"""Sliced Wasserstein critic (Heitz, Vanhoey, Chambon and Belcour, CVPR 2021).

Each tapped layer's feature vectors (one per position) are projected on random unit directions;
the sorted projections of the image are matched to the sorted projections of the target, so
the whole distribution of features is compared, not only its first two moments (Gram). Images
of different sizes compare: the target's sorted values are resampled to the image's count
(its quantiles).

With `patch` k > 1 a layer's vectors are its k x k neighbourhoods (C k^2 values each): on the
`image` taps at a few scales this is the pixel-patch loss of GPDM (Elnekave and Weiss, ECCV
2022), which holds the exemplar's fine pixel statistics that pooled random features miss.

The directions are fixed for `resample_every` evaluations, then drawn afresh (0: once per
phase). L-BFGS needs a loss that does not move under its line search; a fresh set every few
tens of evaluations still covers many directions over a synthesis. Draws follow `seed`.
"""

import torch
import torch.nn.functional as F

from synthlab.errors import SynthlabError
from synthlab.losses.critic import Critic
from synthlab.nets import fused


def sort_rows(p: torch.Tensor) -> torch.Tensor:
    """Each row of p (P, N) sorted ascending; the gradient goes back through the permutation.

    On the CPU the permutation comes from sortrows.cc (a radix sort, several times torch's
    comparison sort here; the same values, and stable, so ties do not depend on the threads)."""
    kernel = fused.library("sortrows") if p.device.type == "cpu" and p.dtype == torch.float32 else None
    if kernel is None:
        return torch.sort(p, dim=1).values
    x = p.detach().contiguous()
    idx = torch.empty(x.shape, dtype=torch.long)
    fused.run_pieces(lambda lo, hi: kernel.syn_sort_rows(x.data_ptr(), x.shape[1], idx.data_ptr(), lo, hi), x.shape[0])
    return p.gather(1, idx)


def quantiles(sorted_rows: torch.Tensor, n: int) -> torch.Tensor:
    """(P, N) rows sorted ascending -> (P, n): the empirical quantile function at the centres of
    n equal bins (a k-times tiling of an image gets exactly its values, each k times)."""
    N = sorted_rows.shape[1]
    if N == n:
        return sorted_rows
    idx = ((torch.arange(n, device=sorted_rows.device) + 0.5) * N / n).long().clamp_max(N - 1)
    return sorted_rows[:, idx]


class SlicedCritic(Critic):
    """Sum over layers of mean((sort(D^T f) - sort(D^T f_target))^2), times weight."""

    def __init__(self, taps, *, weight: float, directions: int, resample_every: int, seed: int, patch: int):
        super().__init__(taps, weight=weight)
        if not isinstance(patch, int) or isinstance(patch, bool) or patch < 1 or patch % 2 == 0:
            raise SynthlabError(f"SlicedCritic: patch must be an odd integer >= 1 (1: single positions), got {patch!r}")
        self.patch, self.reach = patch, patch // 2  # a seamless tile's patches wrap around the seam
        if not isinstance(directions, int) or directions < 0:
            raise SynthlabError("SlicedCritic: directions must be an integer >= 0 (0: one per channel), "
                                f"got {directions!r}")
        if not isinstance(resample_every, int) or resample_every < 0:
            raise SynthlabError(f"SlicedCritic: resample_every must be an integer >= 0 (0: once per phase), "
                                f"got {resample_every!r}")
        self.directions, self.resample_every, self.seed = directions, resample_every, int(seed)
        self.feats, self.dirs, self.sorted = {}, {}, {}
        self.draws = self.calls = 0

    def project(self, l: str, f: torch.Tensor) -> torch.Tensor:
        """(1, C, H, W) -> (P, N): each position's vector (its k x k neighbourhood, C k^2 values
        in unfold's order, for patch k) on layer l's P directions. A patch's projections are
        one convolution with the directions as filters: no unfolded copy of the image."""
        d = self.dirs[l]
        if self.patch == 1:
            return d.t() @ f.flatten(2)[0]
        return F.conv2d(f, d.t().reshape(d.shape[1], f.shape[1], self.patch, self.patch)).flatten(2)[0]

    def set_target(self, feats):
        self.feats = {l: feats[l].detach() for l in self.taps}
        self.calls = 0
        self.draw()

    def draw(self):
        """Fresh directions and the target's sorted projections on them."""
        gen = torch.Generator().manual_seed(self.seed * 100_003 + self.draws)
        self.draws += 1
        for l, f in self.feats.items():
            c = f.shape[1] * self.patch ** 2
            d = torch.randn(c, self.directions or c, generator=gen)
            self.dirs[l] = (d / d.norm(dim=0, keepdim=True)).to(f)
            self.sorted[l] = torch.sort(self.project(l, f), dim=1).values  # (P, N_target)

    def loss(self, feats):
        if self.resample_every and self.calls and self.calls % self.resample_every == 0:
            self.draw()
        self.calls += 1
        total = 0.0
        for l in self.taps:
            p = sort_rows(self.project(l, feats[l]))
            total = total + F.mse_loss(p, quantiles(self.sorted[l], p.shape[1]))
        return self.weight * total
