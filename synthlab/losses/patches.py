"""Neural Patches: nearest-neighbour matching of 3x3 feature patches (Neural Doodle, random branch).

Score of a current patch against a style patch = mean over its 9 positions of the per-pixel
cosine similarity (each pixel's feature vector divided by 3 * its norm, as doodle.py does).
The match is the best score minus `variety` times how well that style patch was matched at the
previous matching; the loss pulls the raw (unnormalised) patches towards their matches.

Fast paths (each measured by `synthlab bench texture`; README "Performance"):
- matching on pixel features (match_features: 9x fewer flops than on unfolded patches, same
  matches), in cache-sized blocks of output rows, never the full N x M score matrix;
- `match_every` k: the matches are recomputed every k evaluations and reused in between
  (matching is most of an evaluation's cost; L-BFGS also sees a fixed loss for k steps);
- `match_dtype` bfloat16: the score matmul in bf16 (fp32 accumulation); `auto` picks it where
  the CPU or GPU has bf16 units (how often it picks the fp32 match, and what it saves: the
  bench and docs/performance.md);
- the loss without unfolding: mean |unfold(f) - T|^2 = (sum cov*f^2 - 2<f, fold(T)> + |T|^2) / n,
  where cov counts the patches covering each pixel; fold(T) is built once per matching.
ReferencePatchCritic is the straightforward implementation the bench compares against.
PatchCritic holds one PatchLayer (the matcher and its state) per tapped layer.
"""

import time

import torch
import torch.nn.functional as F

from synthlab.errors import SynthlabError
from synthlab.losses.critic import Critic
from synthlab.nets import fused

EPS = 1e-8  # doodle.py has none; it only guards all-zero feature vectors (dead ReLU pixels)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": None}


def fast_bf16(device: torch.device) -> bool:
    """bf16 matmuls run on dedicated units here: Ampere+ GPUs, or CPUs with AVX512-BF16/AMX
    (elsewhere bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


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

    cur (N, D) and style (M, D) are normalised patches (in the matmul dtype). Returns
    (idx (N,), best_score (M,)): best_score[k] is style patch k's highest score against any
    current patch, the next matching's `history`.
    """
    rows = chunk_rows(style.shape[0], budget_mb)
    idx = torch.empty(cur.shape[0], dtype=torch.long, device=cur.device)
    best = torch.full((style.shape[0],), -float("inf"), device=cur.device)
    penalty = variety * history if (history is not None and variety) else None
    for i in range(0, cur.shape[0], rows):
        s = (cur[i:i + rows] @ style.t()).float()
        best = torch.maximum(best, s.amax(0))
        if penalty is not None:
            s -= penalty
        idx[i:i + rows] = s.argmax(1)
    return idx, best


def unit_pixels(feat: torch.Tensor, k: int = 3) -> torch.Tensor:
    """(1, C, H, W) -> (H, W, C): each pixel's feature vector divided by k * its norm, so a
    k x k patch's score is the sum of its pixels' dot products."""
    return (feat / (k * feat.norm(dim=1, keepdim=True).clamp_min(EPS)))[0].permute(1, 2, 0)


@torch.no_grad()
def match_features(cur: torch.Tensor, style: torch.Tensor, history=None, variety: float = 0.0,
                   budget_mb: float = 16.0, dtype=torch.float32):
    """match() on features rather than unfolded patches, with the same results, 9x fewer flops.

    A 3x3 patch score is the sum of 9 pixel cosines, so the pixel-level score matrix
    G = U V^T (C-dim dot products, not 9C) is computed once per block of output rows and the
    patch scores are the sum of its 9 shifted views G[y+dy, x+dx, v+dy, u+dx]. Blocks of
    output rows hold at most budget_mb (cache-sized blocks are fastest). A block's last two
    rows of G are the next block's first two: they are carried over, not computed again (at
    512 px one row of G is 8 MB, the blocks hold one output row each, and recomputing the two
    rows tripled the matmul)."""
    _, c, h, w = cur.shape
    _, _, hs, ws = style.shape
    u = unit_pixels(cur).to(dtype)
    v = unit_pixels(style).reshape(hs * ws, c).to(dtype)
    n, m = (h - 2) * (w - 2), (hs - 2) * (ws - 2)
    kernel = fused.library("patchscore") if cur.device.type == "cpu" else None
    row_bytes = 4 * (w * hs * ws + (0 if kernel else (w - 2) * m))  # G, and torch's patch scores
    rows = max(1, int(budget_mb * 2**20 // row_bytes) - 2)
    idx = torch.empty(n, dtype=torch.long, device=cur.device)
    best = torch.full((m,), -float("inf"), device=cur.device)
    penalty = variety * history if (history is not None and variety) else None
    buf = torch.empty(min(rows, h - 2) + 2, w, hs * ws, device=cur.device)  # one block of G
    ny = 0
    for y0 in range(0, h - 2, rows):
        first = 2 if y0 else 0  # rows of G carried over from the block before
        if first:
            last = buf[ny:ny + 2]
            buf[:2] = last.clone() if ny < 2 else last  # the two overlap when a block is one row
        ny = min(rows, h - 2 - y0)
        fresh = buf[first:ny + 2].view(-1, hs * ws)
        if dtype == torch.float32:
            torch.mm(u[y0 + first:y0 + ny + 2].reshape(-1, c), v.t(), out=fresh)
        else:
            fresh.copy_(u[y0 + first:y0 + ny + 2].reshape(-1, c) @ v.t())
        g = buf[:ny + 2].view(ny + 2, w, hs, ws)
        if kernel is not None:  # the same scores and matches, without writing the score matrix
            best = scores_on_cpu(kernel, g, penalty, best, idx[y0 * (w - 2):(y0 + ny) * (w - 2)])
            continue
        sc = g[:ny, :w - 2, :hs - 2, :ws - 2].clone()
        for dy in range(3):
            for dx in range(3):
                if dy or dx:
                    sc += g[dy:dy + ny, dx:dx + w - 2, dy:dy + hs - 2, dx:dx + ws - 2]
        sc = sc.view(ny * (w - 2), m)
        best = torch.maximum(best, sc.amax(0))
        if penalty is not None:
            sc -= penalty
        idx[y0 * (w - 2):(y0 + ny) * (w - 2)] = sc.argmax(1)
    return idx, best


def scores_on_cpu(kernel, g, penalty, best, idx):
    """The 3x3 patch scores of one block of pixel scores g (ny + 2, w, hs, ws), reduced by the
    CPU kernel: idx (written) and the updated column maxima. Threads take pieces of the output
    patches, each with its own column maxima, merged after (max does not depend on order)."""
    ny, w, hs, ws = g.shape[0] - 2, g.shape[1], g.shape[2], g.shape[3]
    n, m = ny * (w - 2), (hs - 2) * (ws - 2)
    g = g.contiguous()
    pen = penalty.float().contiguous() if penalty is not None else None
    pieces = max(1, min(n, 4 * torch.get_num_threads()))
    parts = torch.full((pieces, m), -float("inf"))
    out = torch.empty(n, dtype=torch.long)

    def piece(lo, hi):
        for k in range(lo, hi):
            kernel.syn_patch_scores(g.data_ptr(), ny, w, hs, ws, pen.data_ptr() if pen is not None else None,
                                    parts[k].data_ptr(), out.data_ptr(), k * n // pieces, (k + 1) * n // pieces)

    fused.run_pieces(piece, pieces)
    idx.copy_(out)
    return torch.maximum(best, parts.amax(0))


class PatchLayer:
    """Neural Patches on one layer: set_target(style features), then loss(current features)."""

    def __init__(self, weight: float, variety: float, budget_mb: float, match_every: int, dtype_name: str,
                 occurrence: float = 0.0):
        self.weight, self.variety, self.budget_mb = weight, variety, budget_mb
        self.occurrence, self.counts = occurrence, None
        self.match_every, self.dtype_name = match_every, dtype_name
        self.dtype = DTYPES[dtype_name] or torch.float32
        self.target = self.style = self.history = None
        self.calls = self.matches = 0  # evaluations and matchings in this phase
        self.match_seconds = 0.0  # in matching, all phases (synthlab bench reads it)
        self.shape = self.cov = self.fold_t = self.t_sq = None
        self.n = 0

    def set_target(self, feat: torch.Tensor) -> None:
        if self.dtype_name == "auto":
            self.dtype = torch.bfloat16 if fast_bf16(feat.device) else torch.float32
        self.target = patches(feat).detach()
        self.target_sq = self.target.double().square().sum(1)  # |T_k|^2 of each style patch
        self.style = feat.detach()
        self.history = self.counts = None  # a new phase starts matching afresh
        self.calls, self.matches, self.shape = 0, 0, None

    def search(self, feat, history, variety):
        """(idx, best score per style patch) of the nearest style patches."""
        return match_features(feat, self.style, history, variety, self.budget_mb, self.dtype)

    def match(self, feat: torch.Tensor) -> torch.Tensor:
        t = time.perf_counter()
        feat = feat.detach()
        if self.history is None and (self.variety or self.occurrence):
            # warm-up, as doodle.py: the first evaluation of a phase matches twice so the
            # penalties already have a history to work from
            idx, self.history = self.search(feat, None, 0.0)
            self.counts = torch.bincount(idx, minlength=self.history.numel())
        penalty = self.penalty()
        idx, self.history = self.search(feat, penalty, 0.0 if penalty is None else 1.0)
        if self.occurrence:
            self.counts = torch.bincount(idx, minlength=self.history.numel())
        if idx.is_cuda:  # the time is the GPU's, not the launch's
            torch.cuda.synchronize(idx.device)
        self.matches += 1
        self.match_seconds += time.perf_counter() - t
        return idx

    def penalty(self):
        """What each style patch's score loses at the next matching: variety x its best score at
        the last matching (doodle.py), plus occurrence x how many output patches chose it over
        its fair share (Guided Correspondence's occurrence penalty, in score units)."""
        pen = self.variety * self.history if self.variety else None
        if self.occurrence:
            m, n = self.counts.numel(), int(self.counts.sum())
            occ = (2 * self.occurrence * m / n) * self.counts.to(self.history.dtype)
            pen = occ if pen is None else pen + occ
        return pen

    def loss(self, feat: torch.Tensor) -> torch.Tensor:
        if self.calls % self.match_every == 0 or feat.shape != self.shape:
            self._prepare(feat, self.match(feat))
        self.calls += 1
        f = feat.double()
        return (self.weight / self.n) * ((f * (self.cov * f - 2 * self.fold_t)).sum() + self.t_sq).float()

    @torch.no_grad()
    def _prepare(self, feat, idx):
        """Everything the loss needs from the matches: fold(T), |T|^2, the patch coverage.

        fold(T) is built from the style features directly, one gather per patch offset: the
        matched patches are never unfolded into an (N, 9C) matrix."""
        c, h, w = feat.shape[-3:]
        ws = self.style.shape[-1]
        if feat.shape != self.shape:  # how many patches cover each pixel: depends on the size only
            ones = torch.ones(1, 9, idx.numel(), dtype=torch.float64, device=feat.device)
            self.cov, self.shape = F.fold(ones, (h, w), 3), feat.shape
        self.n = idx.numel() * 9 * c
        top, left = idx // (ws - 2), idx % (ws - 2)  # each matched style patch's corner
        style = self.style[0].flatten(1)  # (C, hs * ws)
        fold_t = torch.zeros(1, c, h, w, dtype=torch.float64, device=feat.device)
        for dy in range(3):
            for dx in range(3):
                px = style[:, (top + dy) * ws + left + dx].view(c, h - 2, w - 2)
                fold_t[0, :, dy:dy + h - 2, dx:dx + w - 2] += px
        self.fold_t = fold_t
        self.t_sq = self.target_sq[idx].sum()


class ReferencePatchLayer(PatchLayer):
    """The straightforward implementation: the full fp32 score matrix of unfolded patches at
    every evaluation (one block), the loss on unfolded patches. The bench's baseline."""

    def search(self, feat, history, variety):
        return match(normalised_patches(feat), normalised_patches(self.style), history, variety, budget_mb=1e12)

    def loss(self, feat):
        return self.weight * F.mse_loss(patches(feat), self.target[self.match(feat)])


class PatchCritic(Critic):
    """Neural Patches on each of its layers (one matcher per layer), summed.

    weight: doodle.py's style weight; variety: penalty on re-using well-matched style patches;
    budget_mb: memory for one block of scores; match_every: recompute matches every k
    evaluations; match_dtype: the score matmul's dtype (auto: bf16 where the hardware has it)."""

    part = PatchLayer
    reach = 1  # 3x3 patches

    def __init__(self, taps, *, weight: float, variety: float, budget_mb: float,
                 match_every: int, match_dtype: str, occurrence: float = 0.0):
        super().__init__(taps, weight=weight)
        if not isinstance(match_every, int) or isinstance(match_every, bool) or match_every < 1:
            raise SynthlabError(f"PatchCritic: match_every must be an integer >= 1, got {match_every!r}")
        if match_dtype not in DTYPES:
            raise SynthlabError(f"PatchCritic: match_dtype must be one of {', '.join(DTYPES)}, got {match_dtype!r}")
        variety, budget_mb = self.number("variety", variety), self.number("budget_mb", budget_mb, positive=True)
        occurrence = self.number("occurrence", occurrence)
        self.parts = {l: self.part(self.weight, variety, budget_mb, match_every, match_dtype, occurrence)
                      for l in self.taps}

    def set_target(self, feats):
        for l, p in self.parts.items():
            p.set_target(feats[l])

    def loss(self, feats):
        return sum(p.loss(feats[l]) for l, p in self.parts.items())

    def stats(self):
        return {"match_dtype": str(next(iter(self.parts.values())).dtype).removeprefix("torch."),
                "match_seconds": sum(p.match_seconds for p in self.parts.values())}


class ReferencePatchCritic(PatchCritic):
    """Every evaluation matches in fp32 over the full score matrix: no budget, reuse or dtype."""

    part = ReferencePatchLayer

    def __init__(self, taps, *, weight: float, variety: float):
        super().__init__(taps, weight=weight, variety=variety, budget_mb=1e12, match_every=1, match_dtype="float32")
