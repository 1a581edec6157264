"""Example-based texture synthesis with a random network (Neural Doodle's `random` branch).

The image is the parameter. Phase i of `phases` runs at scale 1/2^(phases-1-i) with the
exemplar rescaled to match; phase 0 starts from uniform noise, later phases from the previous
result upsampled (bicubic). Each phase spends at most `iterations` function evaluations of
L-BFGS (or steps of Adam); L-BFGS may stop early when its line search stalls. One training_step runs `evals_per_step` of them, so the progress bar,
the logged loss and the intermediate frames advance during a phase.
"""

import math
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

from synthlab.data import fit_max_side, load_image, resize
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.losses import PatchCritic, tv_loss
from synthlab.tasks.base import steps_loader


def _size(size, default):
    if size is None:
        return default
    h, w = (size, size) if isinstance(size, int) else tuple(size)
    if h <= 0 or w <= 0:
        raise SynthlabError(f"task.size must be positive, got {h}x{w}")
    return int(h), int(w)


class TextureSynthesis(pl.LightningModule):
    def __init__(self, net, optim, exemplar: str = "skimage:grass", size=256, exemplar_size=None,
                 phases: int = 3, iterations: int = 100, layers=("conv3_1", "conv4_1"),
                 style_weight: float = 100.0, variety: float = 0.1, smoothness: float = 0.1,
                 noise_range=(0, 255), evals_per_step: int = 20, frames_every: int = 0,
                 match_budget_mb: float = 64.0, seed: int = 0, name: str = "texture"):
        super().__init__()
        self.automatic_optimization = False  # phases swap the image and the optimiser
        if phases < 1 or iterations < 1 or evals_per_step < 1:
            raise SynthlabError(f"task.phases, task.iterations and task.evals_per_step must be >= 1, "
                                f"got {phases}, {iterations}, {evals_per_step}")
        for key, v in (("style_weight", style_weight), ("smoothness", smoothness), ("variety", variety)):
            if v < 0 or (key == "style_weight" and v == 0):
                raise SynthlabError(f"task.{key} must be {'positive' if key == 'style_weight' else '>= 0'}, got {v}")
        lo, hi = noise_range
        if not 0 <= lo < hi <= 255:
            raise SynthlabError(f"task.noise_range must satisfy 0 <= lo < hi <= 255, got {list(noise_range)}")
        self.net, self.optim_factory = net, optim
        self.phases, self.iterations = phases, iterations
        self.layers = list(layers)
        net.check_taps(self.layers)
        self.smoothness, self.noise_range = smoothness, (lo, hi)
        self.evals_per_step, self.frames_every, self.seed, self.name = evals_per_step, frames_every, seed, name
        self.critics = [PatchCritic(l, style_weight, variety, match_budget_mb) for l in self.layers]
        ex = fit_max_side(load_image(exemplar), exemplar_size)
        self.register_buffer("exemplar", ex, persistent=False)
        self.size = _size(size, tuple(ex.shape[-2:]))
        self.check_sizes()
        self.image = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.phase, self.evals, self.opt = -1, 0, None
        self.out_dir = None  # set by run(): frames are written under it
        self.next_frame = frames_every
        self.history = []  # (phase, evals, loss) after every step
        self.schedule = [p for p in range(phases) for _ in range(math.ceil(iterations / evals_per_step))]
        self.phase_seconds = [0.0] * phases

    # --- sizes -----------------------------------------------------------------------------
    def scale(self, phase):
        return 0.5 ** (self.phases - 1 - phase)

    def phase_size(self, hw, phase):
        return tuple(max(1, round(v * self.scale(phase))) for v in hw)

    def check_sizes(self):
        """Every tapped layer must hold a 3x3 patch in every phase, for output and exemplar."""
        for what, hw in (("output", self.size), ("exemplar", tuple(self.exemplar.shape[-2:]))):
            h, w = self.phase_size(hw, 0)
            for layer in self.layers:
                fh, fw = self.net.feature_size(h, w, layer)
                if fh < 3 or fw < 3:
                    raise SynthlabError(
                        f"{what} {hw[0]}x{hw[1]} is too small: at phase 0 (scale 1/{2 ** (self.phases - 1)}) "
                        f"it is {h}x{w} and {layer} is {fh}x{fw}, but patches need 3x3; "
                        "use a larger size or fewer phases")

    # --- optimisation --------------------------------------------------------------------
    def train_dataloader(self):
        return steps_loader(len(self.schedule))

    def configure_optimizers(self):
        return None  # built per phase in start_phase(): the image changes size

    def features(self, x):
        return self.net(x, self.layers)

    def start_phase(self, phase):
        h, w = self.phase_size(self.size, phase)
        ex = resize(self.exemplar, self.phase_size(tuple(self.exemplar.shape[-2:]), phase))
        with torch.no_grad():
            feats = self.features(ex[None] * 2 - 1)
            for c in self.critics:
                c.set_target(feats[c.layer])
            if phase == 0 or self.phase < 0:
                gen = torch.Generator().manual_seed(self.seed + 1)
                lo, hi = self.noise_range
                x = torch.rand(1, 3, h, w, generator=gen) * (hi - lo) / 127.5 + (lo / 127.5 - 1)
            else:
                x = resize(self.image.detach(), (h, w), mode="bicubic").clamp(-1, 1)
        self.image = nn.Parameter(x.to(self.exemplar.device).contiguous())
        self.opt = self.optim_factory([self.image])
        self.phase, self.phase_evals = phase, 0

    def loss(self):
        feats = self.features(self.image)
        loss = sum(c.loss(feats[c.layer]) for c in self.critics)
        if self.smoothness:
            loss = loss + self.smoothness * tv_loss(self.image)
        return loss

    def run_evals(self, n):
        """Spend n function evaluations; returns the last loss."""
        def closure():
            self.opt.zero_grad()
            loss = self.loss()
            self.manual_backward(loss)
            self.evals += 1
            self.phase_evals += 1
            return loss

        if isinstance(self.opt, torch.optim.LBFGS):
            # L-BFGS counts evaluations per step() call; its line search can overrun by a few
            group = self.opt.param_groups[0]
            group["max_iter"], group["max_eval"] = n, n
            loss = self.opt.step(closure)
        else:
            for _ in range(n):
                loss = closure()
                self.opt.step()
        if not torch.isfinite(loss):
            raise SynthlabError(f"loss became {float(loss)} at phase {self.phase}, evaluation {self.evals}: "
                                "lower the optimiser's lr or the weights")
        return float(loss.detach())

    def training_step(self, batch, batch_idx):
        phase = self.schedule[batch_idx]
        if phase != self.phase:
            self.start_phase(phase)
        n = min(self.evals_per_step, self.iterations - self.phase_evals)
        t = time.perf_counter()
        loss = self.run_evals(n) if n > 0 else float("nan")
        self.phase_seconds[phase] += time.perf_counter() - t
        self.history.append((phase, self.evals, loss))
        self.log_dict({"loss": loss, "phase": float(phase), "evals": float(self.evals)}, prog_bar=True)
        if self.frames_every and self.evals >= self.next_frame:
            self.next_frame = (self.evals // self.frames_every + 1) * self.frames_every
            self.log_frame(f"eval{self.evals:05d}")
        last = batch_idx + 1 == len(self.schedule) or self.schedule[batch_idx + 1] != phase
        if last:
            with torch.no_grad():
                self.image.clamp_(-1, 1)  # L-BFGS-B had bounds [0, 255]; torch's has none
            self.log_frame(f"phase{phase}")

    def log_frame(self, tag):
        """Intermediate image: to frames/ in the run folder and to the logger if it takes images."""
        img = self.result()
        if self.out_dir is not None:
            save_png(self.out_dir / "frames" / f"{tag}.png", img)
        if self.logger is not None and hasattr(self.logger, "log_image"):
            self.logger.log_image(key="frames", images=[img], caption=[tag])

    # --- results ---------------------------------------------------------------------------
    def result(self):
        """Current image as (3, H, W) in [0, 1] on the CPU."""
        return ((self.image.detach()[0].float().cpu() + 1) / 2).clamp(0, 1)

    def save_outputs(self, out_dir: Path, text: dict) -> dict:
        """Write texture.png (config in its PNG text) and return the quality metrics."""
        from synthlab.metrics import copy_shares, swd

        img = self.result()
        save_png(out_dir / "texture.png", img, text)
        ex = self.exemplar.float().cpu()
        s = swd(img, ex)
        return {"swd": s["mean"], "swd_levels": s["levels"], **copy_shares(img, ex),
                "evals": self.evals, "phase_seconds": self.phase_seconds,
                "final_loss": self.history[-1][2] if self.history else None,
                "size": list(self.size), "exemplar_size": list(ex.shape[-2:])}
