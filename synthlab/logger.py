"""The loggers conf/logger/ names: Lightning's, plus what synthlab asks of every one of them.

Tasks log images with `log_images` (frames, sample sheets) and run() ends a run with
`log_summary` and `close`, whichever logger is configured: the contract is these three
methods, so nothing asks a logger what it is.
"""

import logging
import math
import os

from pytorch_lightning import loggers

from synthlab.io import to_pil

log = logging.getLogger("synthlab")


def scalars(metrics: dict) -> dict:
    """The finite numbers of a metrics dict (lists, strings and NaN stay in metrics.json)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


class SynthlabLogger:
    """What synthlab asks of a logger beyond Lightning's: images in [0, 1], a final summary."""

    def log_images(self, key: str, images: list, captions: list | None = None, step: int | None = None) -> None:
        """Images as (C, H, W) tensors in [0, 1]."""

    def log_summary(self, metrics: dict) -> None:
        self.log_metrics({f"final/{k}": v for k, v in scalars(metrics).items()})

    def close(self) -> None:
        """Flush and end the run, so the next job of a sweep starts its own."""


class CSVLogger(SynthlabLogger, loggers.CSVLogger):
    """Metrics to CSV; images are the PNGs in the run folder, so none are logged here."""

    def close(self) -> None:
        self.save()


def hparams(params: dict) -> dict:
    """What tells a sweep's runs apart, as TensorBoard hparams: the task, seed, the group
    choices (network/activation: elu) and every command-line override (task.variety: 0.5)."""
    hp = {"task": params.get("task", {}).get("name", ""), "seed": params.get("seed", 0)}
    hp.update({k: str(v) for k, v in (params.get("choices") or {}).items()
               if v is not None and k not in ("logger", "trainer", "launcher", "sweep")})
    for o in params.get("overrides") or []:
        k, _, v = str(o).partition("=")
        if k.startswith(("hydra.", "logger", "sweep", "launcher")):
            continue
        try:
            hp[k.lstrip("+~")] = float(v)
        except ValueError:
            hp[k.lstrip("+~")] = v
    return hp


class TensorBoardLogger(SynthlabLogger, loggers.TensorBoardLogger):
    """Scalars and images as Lightning's, plus an HParams entry per run (see hparams) whose
    metric columns are the final metrics, written when the run ends: TensorBoard's HParams
    view then compares the runs of a sweep (tensorboard --logdir outputs/multirun/<sweep>)."""

    def __init__(self, **kw):
        super().__init__(default_hp_metric=False, **kw)
        self.hp = {}

    def log_hyperparams(self, params, metrics=None) -> None:
        self.hp = hparams(params if isinstance(params, dict) else dict(params))

    def log_summary(self, metrics: dict) -> None:
        final = {f"final/{k}": v for k, v in scalars(metrics).items()}
        loggers.TensorBoardLogger.log_hyperparams(self, self.hp, final)  # writes the metrics too

    def log_images(self, key, images, captions=None, step=None):
        for i, img in enumerate(images):
            tag = f"{key}/{captions[i]}" if captions else key
            self.experiment.add_image(tag, img.detach().float().cpu().clamp(0, 1), step or 0)

    def close(self) -> None:
        self.experiment.flush()


class WandbLogger(SynthlabLogger, loggers.WandbLogger):
    """W&B, offline unless mode=online; if online cannot start (no login, no network) it says
    so in one line and goes on offline, so a run never waits on the network."""

    def __init__(self, mode: str = "offline", name: str | None = None, **kw):
        super().__init__(name=name or None, mode=mode, settings={"init_timeout": 30, "silent": True}, **kw)
        self._wandb_init.pop("anonymous", None)  # recent wandb warns about anonymous=None on every run

    def log_hyperparams(self, params) -> None:
        """Logs the config, which opens the run: the moment online either works or falls back."""
        from synthlab.online import unreachable

        try:
            if self._wandb_init["mode"] == "online":
                import wandb

                why = unreachable(os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url, http=True)
                if why:
                    raise ConnectionError(why)
            super().log_hyperparams(params)
        except Exception as e:  # wandb raises several types (UsageError, CommError, timeouts)
            if self._wandb_init["mode"] != "online":
                raise
            self.close()
            first = (str(e).strip().splitlines() or [type(e).__name__])[-1]
            log.warning("W&B could not start online (%s); logging offline instead: sync later with "
                        "`wandb sync %s/wandb/offline-run-*`", first, self._wandb_init["dir"])
            self._wandb_init["mode"], self._experiment = "offline", None
            super().log_hyperparams(params)

    def log_images(self, key, images, captions=None, step=None):
        # 8-bit images: wandb casts float arrays to uint8 without scaling, so [0, 1] came out black
        kw = {"caption": list(captions)} if captions else {}
        self.log_image(key=key, images=[to_pil(img) for img in images], step=step, **kw)

    def log_summary(self, metrics: dict) -> None:
        self.experiment.summary.update(scalars(metrics))

    def close(self) -> None:
        import wandb

        if wandb.run is not None:
            wandb.finish()
        self._experiment = None
