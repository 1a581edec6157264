"""The task contract, and the image-optimisation task that texture and fc_style share.

A task is a LightningModule that run() builds from `cfg.task` with one instantiate (its
network, optimiser, critics and data are nodes under it) and then drives through this
contract, never by asking what the task is:

- `Task(out_dir=..., name=..., seed=...)`: the run folder is known at construction; everything
  the task writes (frames, checkpoints, samples, final outputs) goes under it.
- `trains`: True -> `trainer.fit(task)` (with `ckpt_path` when resuming); False ->
  `trainer.predict(task)`. Either way the task provides its own dataloader.
- `save_outputs(text) -> dict`: after fit/predict, write the final files (PNG text chunks from
  `text`) and return the run's metrics; run() adds the common ones and writes metrics.json.
- `result() -> (C, H, W) in [0, 1] or None`: the run's image for loggers and reports.
- `stale_keys`: state-dict key prefixes that older checkpoints of this task carry and that
  are dropped on load (resume checks the rest key by key).
- `items`: what one batch element is, for the progress bar's rate (`digits/s`).
"""

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from synthlab.checks import image_size  # noqa: F401  (tasks import it from here)
from synthlab.data import resize
from synthlab.io import save_png
from synthlab.memory import floats_per_pixel, require
from synthlab.solver import Solver


class Task(pl.LightningModule):
    trains = True
    # True where a training step's backward passes each leave some parameters without a
    # gradient (the GAN trains G + E and D in turn): DDP must then look for unused ones
    partial_steps = False
    stale_keys: tuple = ()
    items = "images"

    def __init__(self, out_dir, name: str, seed: int = 0):
        super().__init__()
        self.out_dir, self.name, self.seed = Path(out_dir), name, int(seed)

    def save_outputs(self, text: dict) -> dict:
        raise NotImplementedError

    def result(self) -> torch.Tensor | None:
        raise NotImplementedError

    def log_images(self, key: str, images: list, captions: list | None = None) -> None:
        """To the configured logger, if any (every synthlab logger takes images)."""
        if self.logger is not None:
            self.logger.log_images(key, images, captions, step=self.global_step)

    def on_load_checkpoint(self, checkpoint):
        sd = checkpoint["state_dict"]
        for k in [k for k in sd if self.stale_keys and k.startswith(self.stale_keys)]:
            del sd[k]


class Steps(Dataset):
    """Items 0..n-1: image-optimisation and rendering tasks have no data, only a schedule of
    steps (Lightning needs a dataloader; each item is one training or predict step)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i


def steps_loader(n: int) -> DataLoader:
    return DataLoader(Steps(n), batch_size=None, shuffle=False, num_workers=0)


class ImageTask(Task):
    """Optimises an image (the module's parameter) with a Solver: phase 0 starts from
    `initial_image`, later phases from the previous result upsampled (bicubic). One training
    step spends the solver's `evals_per_step` evaluations, so the progress bar, the logged loss
    and the frames advance during a phase.

    Subclasses set `self.size` (output (h, w)) in their __init__ and give `features`,
    `set_targets`, `initial_image` and `loss`."""

    value_range = (0.0, 1.0)  # the space the image parameter lives in
    size: tuple

    def __init__(self, optim, phases: int, iterations: int, evals_per_step: int, frames_every: int,
                 out_dir, name: str, seed: int = 0):
        super().__init__(out_dir, name, seed)
        self.automatic_optimization = False  # phases swap the image and the optimiser
        self.solver = Solver(optim, phases, iterations, evals_per_step)
        self.frames_every, self.next_frame = frames_every, frames_every
        self.image = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.phase = -1
        self.history = []  # (phase, evals, loss) after every step

    # --- to be given by each task ------------------------------------------------------------
    def features(self, x: torch.Tensor) -> dict:
        raise NotImplementedError

    def set_targets(self, phase: int) -> None:
        raise NotImplementedError

    def initial_image(self, h: int, w: int) -> torch.Tensor:
        raise NotImplementedError

    def loss(self) -> torch.Tensor:
        raise NotImplementedError

    def upsample(self, x: torch.Tensor, size) -> torch.Tensor:
        """The previous phase's image at the next phase's size (bicubic)."""
        return resize(x, size, mode="bicubic")

    def check_memory(self, extra_px: int = 0) -> None:
        """Refuse an output too large for memory before any phase allocates it. A probe forward
        gives the network's activations per pixel; a phase holds them about three times
        (forward, saved for backward, gradients) plus the image, its gradient and optimiser
        state. extra_px: pixels of target images run through the network once."""
        h, w = self.size
        per_px = floats_per_pixel(self.features)
        need = 4 * (h * w * (3 * per_px + 64) + extra_px * per_px)
        require(need, f"a {w}x{h} {self.name} output", "use a smaller task.size")

    # --- phases ------------------------------------------------------------------------------
    def train_dataloader(self):
        return steps_loader(self.solver.steps)

    def configure_optimizers(self):
        return None  # the solver builds one per phase: the image changes size

    def start_phase(self, phase: int) -> None:
        h, w = self.solver.phase_size(self.size, phase)
        with torch.no_grad():
            self.set_targets(phase)
            if phase == 0 or self.phase < 0:
                x = self.initial_image(h, w)
            else:
                x = self.upsample(self.image.detach(), (h, w)).clamp(*self.value_range)
        self.image = nn.Parameter(x.to(self.device).contiguous())
        self.solver.start([self.image], phase)
        self.phase = phase

    def training_step(self, batch, batch_idx):
        phase = self.solver.phase_of(batch_idx)
        if phase != self.phase:
            self.start_phase(phase)
        n = self.solver.left()
        loss = self.solver.spend(n, self.loss, self.manual_backward, phase) if n > 0 else float("nan")
        self.history.append((phase, self.solver.evals, loss))
        self.log_dict({"loss": loss, "phase": float(phase), "evals": float(self.solver.evals)}, prog_bar=True)
        if self.frames_every and self.solver.evals >= self.next_frame:
            self.next_frame = (self.solver.evals // self.frames_every + 1) * self.frames_every
            self.log_frame(f"eval{self.solver.evals:05d}")
        if self.solver.is_last_step(batch_idx):
            with torch.no_grad():
                self.image.clamp_(*self.value_range)  # L-BFGS-B had bounds; torch's has none
            self.log_frame(f"phase{phase}")

    def log_frame(self, tag):
        """Intermediate image: to frames/ in the run folder and to the logger."""
        img = self.result()
        save_png(self.out_dir / "frames" / f"{tag}.png", img)
        self.log_images("frames", [img], [tag])

    def result(self):
        """Current image as (3, H, W) in [0, 1] on the CPU."""
        lo, hi = self.value_range
        return ((self.image.detach()[0].float().cpu() - lo) / (hi - lo)).clamp(0, 1)

    def run_stats(self) -> dict:
        """Solver counts, and the loss after every step as `per_step` rows (the report's curves)."""
        return {**self.solver.stats(), "size": list(self.size),
                "first_loss": self.history[0][2] if self.history else None,
                "final_loss": self.history[-1][2] if self.history else None,
                "per_step": [{"evals": e, "phase": p, "loss": l} for p, e, l in self.history]}
