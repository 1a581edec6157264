"""What every task module shares: a step schedule as the dataloader, and image optimisation.

ImageTask optimises an image that is the module's parameter, over `phases` scales
(1/2^(phases-1-i)); phase 0 starts from `initial_image`, later phases from the previous
result upsampled (bicubic). Each phase spends at most `iterations` function evaluations of
L-BFGS (or steps of Adam); one training_step runs `evals_per_step` of them, so the progress
bar, the logged loss and the frames advance during a phase. Subclasses give the targets of
a phase (`set_targets`), the first image and the loss.
"""

import math
import time

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from synthlab.data import resize
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.memory import floats_per_pixel, require


class Steps(Dataset):
    """Items 0..n-1: image-optimisation tasks have no data, only a schedule of steps
    (Lightning needs a dataloader; each item is one training or predict step)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def steps_loader(n: int) -> DataLoader:
    return DataLoader(Steps(n), batch_size=None, shuffle=False, num_workers=0)


def image_size(size, default=None):
    """task.size as (h, w): an int, [h, w], or None for `default`."""
    if size is None:
        return default
    try:
        h, w = (size, size) if isinstance(size, int) else (int(v) for v in size)
        assert not isinstance(size, str)
    except (TypeError, ValueError, AssertionError):
        raise SynthlabError(f"task.size must be an integer or [height, width], got {size!r}") from None
    if h <= 0 or w <= 0:
        raise SynthlabError(f"task.size must be positive, got {h}x{w}")
    return int(h), int(w)


class ImageTask(pl.LightningModule):
    value_range = (0.0, 1.0)  # the space the image parameter lives in

    def __init__(self, optim, phases: int = 1, iterations: int = 100, evals_per_step: int = 20,
                 frames_every: int = 0, seed: int = 0, name: str = "image"):
        super().__init__()
        self.automatic_optimization = False  # phases swap the image and the optimiser
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in (phases, iterations, evals_per_step)):
            raise SynthlabError(f"task.phases, task.iterations and task.evals_per_step must be integers >= 1, "
                                f"got {phases!r}, {iterations!r}, {evals_per_step!r}")
        self.optim_factory, self.phases, self.iterations = optim, phases, iterations
        self.evals_per_step, self.frames_every, self.seed, self.name = evals_per_step, frames_every, seed, name
        self.image = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.phase, self.evals, self.phase_evals, self.opt, self.restarts = -1, 0, 0, None, 0
        self.out_dir = None  # set by run(): frames are written under it
        self.next_frame = frames_every
        self.history = []  # (phase, evals, loss) after every step
        self.steps_per_phase = math.ceil(iterations / evals_per_step)  # phase of step i: i // this
        self.phase_seconds = [0.0] * phases

    # --- to be given by each task ------------------------------------------------------------
    def set_targets(self, phase: int) -> None:
        raise NotImplementedError

    def initial_image(self, h: int, w: int) -> torch.Tensor:
        raise NotImplementedError

    def loss(self) -> torch.Tensor:
        raise NotImplementedError

    def check_memory(self, extra_px: int = 0) -> None:
        """Refuse an output too large for memory before any phase allocates it. A probe forward
        gives the network's activations per pixel; a phase holds them about three times
        (forward, saved for backward, gradients) plus the image, its gradient and optimiser
        state. extra_px: pixels of target images run through the network once."""
        h, w = self.size
        per_px = floats_per_pixel(self.features)
        need = 4 * (h * w * (3 * per_px + 64) + extra_px * per_px)
        require(need, f"a {w}x{h} {self.name} output", "use a smaller task.size")

    # --- phases ----------------------------------------------------------------------------
    def scale(self, phase):
        return 0.5 ** (self.phases - 1 - phase)

    def phase_size(self, hw, phase):
        return tuple(max(1, round(v * self.scale(phase))) for v in hw)

    def train_dataloader(self):
        return steps_loader(self.phases * self.steps_per_phase)

    def configure_optimizers(self):
        return None  # built per phase in start_phase(): the image changes size

    def start_phase(self, phase):
        h, w = self.phase_size(self.size, phase)
        with torch.no_grad():
            self.set_targets(phase)
            if phase == 0 or self.phase < 0:
                x = self.initial_image(h, w)
            else:
                x = resize(self.image.detach(), (h, w), mode="bicubic").clamp(*self.value_range)
        self.image = nn.Parameter(x.to(self.device).contiguous())
        self.opt = self.optim_factory([self.image])
        self.phase, self.phase_evals = phase, 0

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
            # L-BFGS counts evaluations per step() call; its line search can overrun by a few.
            # It also stops early when a line search finds no decrease (the matches moved
            # under it): then its memory is dropped and it restarts from steepest descent, so
            # the phase still spends its whole budget.
            group, start = self.opt.param_groups[0], self.evals
            while self.evals - start < n:
                group["max_iter"] = group["max_eval"] = n - (self.evals - start)
                loss = self.opt.step(closure)
                if self.evals - start < n:
                    self.opt.state.clear()
                    self.restarts += 1
        else:
            for _ in range(n):
                loss = closure()
                self.opt.step()
        if not torch.isfinite(loss):
            raise SynthlabError(f"loss became {float(loss)} at phase {self.phase}, evaluation {self.evals}: "
                                "lower the optimiser's lr or the weights")
        return float(loss.detach())

    def training_step(self, batch, batch_idx):
        phase = batch_idx // self.steps_per_phase
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
        if (batch_idx + 1) % self.steps_per_phase == 0:  # the phase's last step
            with torch.no_grad():
                self.image.clamp_(*self.value_range)  # L-BFGS-B had bounds; torch's has none
            self.log_frame(f"phase{phase}")

    def log_frame(self, tag):
        """Intermediate image: to frames/ in the run folder and to the logger if it takes images."""
        img = self.result()
        if self.out_dir is not None:
            save_png(self.out_dir / "frames" / f"{tag}.png", img)
        if self.logger is not None and hasattr(self.logger, "log_image"):
            self.logger.log_image(key="frames", images=[img], caption=[tag])

    def result(self):
        """Current image as (3, H, W) in [0, 1] on the CPU."""
        lo, hi = self.value_range
        return ((self.image.detach()[0].float().cpu() - lo) / (hi - lo)).clamp(0, 1)

    def run_stats(self) -> dict:
        return {"evals": self.evals, "restarts": self.restarts, "phase_seconds": self.phase_seconds, "size": list(self.size),
                "first_loss": self.history[0][2] if self.history else None,
                "final_loss": self.history[-1][2] if self.history else None}
