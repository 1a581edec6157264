"""The progress bar, in each task's own units (run() adds it when the trainer shows one).

Image tasks run one "epoch" of solver steps: the bar counts function evaluations of the whole
synthesis (all phases) and shows the phase as `phase 2/3`. Training tasks show `epoch 3/6`
(1-based, like every file name), the optimiser updates so far and their rate in the task's
`items` per second (`digits/s` for MNIST).
"""

import time

import torch
from pytorch_lightning.callbacks import TQDMProgressBar

from synthlab.tasks.base import ImageTask

HIDDEN = ("v_num", "evals", "phase")


class Bar(TQDMProgressBar):
    def __init__(self):
        super().__init__()
        self.items, self.t0 = 0, None

    def on_train_epoch_start(self, trainer, pl_module, *args):
        super().on_train_epoch_start(trainer, pl_module, *args)
        bar = self.train_progress_bar
        if isinstance(pl_module, ImageTask):
            s = pl_module.solver
            bar.total, bar.unit = s.total, "eval"
            bar.set_description(pl_module.name)
        else:
            bar.set_description(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}")
        self.items, self.t0 = 0, time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if isinstance(pl_module, ImageTask):
            bar = self.train_progress_bar
            bar.n = min(pl_module.solver.evals, bar.total)
            bar.set_postfix(self.get_metrics(trainer, pl_module))
            bar.refresh()
            return
        if isinstance(batch, (list, tuple)) and batch and torch.is_tensor(batch[0]):
            self.items += len(batch[0])
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def get_metrics(self, trainer, pl_module):
        m = {k: int(v) if k.endswith("steps") and isinstance(v, float) and v.is_integer() else v
             for k, v in super().get_metrics(trainer, pl_module).items() if k not in HIDDEN}
        if isinstance(pl_module, ImageTask):
            m["phase"] = f"{max(pl_module.phase, 0) + 1}/{pl_module.solver.phases}"
        else:  # optimiser updates so far (a GAN batch makes several)
            m["updates"] = trainer.global_step
        if self.items and self.t0 is not None:
            m[f"{pl_module.items}/s"] = f"{self.items / max(time.perf_counter() - self.t0, 1e-9):.0f}"
        return m
