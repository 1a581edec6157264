"""run(cfg): one job from a composed config. Plain function, so tests call it without the CLI."""

import inspect
import logging
import os
import time
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import get_class, instantiate as _instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from synthlab.errors import SynthlabError
from synthlab.io import checkpoint_io, write_json

log = logging.getLogger("synthlab")


def quiet_lightning():
    """Keep the console to what matters: Lightning's banner, tips and known-harmless warnings go."""
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    for msg in (".*configure_optimizers.*returned `None`.*", ".*LeafSpec.*", ".*does not have many workers.*",
                ".*is smaller than the logging interval.*",
                ".*predict returned None.*", ".*module(s) in eval mode.*"):
        warnings.filterwarnings("ignore", message=msg)


def instantiate(node, *args, **kwargs):
    """hydra's instantiate, but a SynthlabError inside comes out as itself, not wrapped."""
    from omegaconf.errors import MissingMandatoryValue

    try:
        return _instantiate(node, *args, **kwargs)
    except MissingMandatoryValue as e:
        raise SynthlabError(f"{e.full_key} must be set: add {e.full_key}=... to the command") from None
    except InstantiationException as e:
        cause = e
        while cause is not None and not isinstance(cause, SynthlabError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        # a value of the wrong type or range that the class did not check itself: still a
        # config mistake, named in one line (target and the underlying message)
        root = e
        while root.__cause__ is not None:
            root = root.__cause__
        target = node.get("_target_", "?") if hasattr(node, "get") else "?"
        msg = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
        raise SynthlabError(f"cannot build {target} from the config: {type(root).__name__}: {msg}") from e


def make_logger(cfg: DictConfig):
    """The configured Lightning logger, or None. W&B never blocks: offline unless asked."""
    lcfg = cfg.get("logger")
    if not lcfg or "_target_" not in lcfg:
        return None
    extra = {}
    if "Wandb" in lcfg._target_:
        extra = {"name": lcfg.get("name") or cfg.get("run_name") or None,
                 "settings": {"init_timeout": 30, "silent": True}}
    logger = instantiate(lcfg, **extra)
    if extra:  # Lightning passes anonymous=None, which recent wandb warns about on every run
        logger._wandb_init.pop("anonymous", None)
    return logger


def wandb_reachable(timeout: float = 5.0) -> str | None:
    """None if the W&B server answers a TCP connect within `timeout`, else the reason.
    Checked first because wandb itself retries for minutes without a network."""
    import socket
    from urllib.parse import urlparse

    import wandb

    url = urlparse(os.environ.get("WANDB_BASE_URL") or wandb.Settings().base_url)
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
        return None
    except OSError as e:
        return f"{url.hostname} unreachable: {e}"


def start_logger(cfg: DictConfig, logger, params: dict):
    """Log the config (this opens the W&B run). If W&B cannot go online (no login, no network),
    say so in one line and carry on offline: the run can be synced later."""
    if logger is None:
        return None
    wandb = "Wandb" in type(logger).__name__
    try:
        if wandb and cfg.logger.get("mode") == "online" and (why := wandb_reachable()):
            raise ConnectionError(why)
        logger.log_hyperparams(params)
        return logger
    except Exception as e:  # wandb raises several types (UsageError, CommError, timeouts)
        if not wandb:
            raise
        finish_wandb()
        first = (str(e).strip().splitlines() or [type(e).__name__])[-1]
        log.warning("W&B could not start online (%s); logging offline instead: "
                    "sync later with `wandb sync %s/wandb/offline-run-*`", first, cfg.out_dir)
        with open_dict(cfg):
            cfg.logger.mode = "offline"
        logger = make_logger(cfg)
        logger.log_hyperparams(params)
        return logger


def finish_wandb():
    """Close the W&B run so the next multirun job starts its own (never merges into this one)."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def find_resume(cfg: DictConfig) -> Path | None:
    """The run folder to continue: cfg.resume as a path, or with true the newest folder of this
    task (outputs/<task>/<date>/<time>) that has checkpoints/last.ckpt and no metrics.json."""
    if not cfg.get("resume"):
        return None
    if cfg.resume is not True:
        d = Path(str(cfg.resume))
        if not (d / "checkpoints" / "last.ckpt").is_file():
            raise SynthlabError(f"nothing to resume in {d}: no checkpoints/last.ckpt there")
        return d
    here = Path(cfg.out_dir).resolve()
    runs = [c.parents[1] for c in here.parents[1].glob("*/*/checkpoints/last.ckpt")
            if c.parents[1] != here and not (c.parents[1] / "metrics.json").exists()]
    if not runs:
        raise SynthlabError(f"resume=true: no unfinished {cfg.task.name} run with checkpoints/last.ckpt "
                            f"under {here.parents[1]}")
    return max(runs, key=lambda d: (d / "checkpoints" / "last.ckpt").stat().st_mtime)


def check_checkpoint(task, path: Path) -> Path:
    """A resume checkpoint that loads (weights only) and fits this task's keys and shapes, or a
    one-line error naming the file and the first mismatch."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as e:
        raise SynthlabError(f"cannot read checkpoint {path} ({type(e).__name__}: {str(e).strip()[:160]}); "
                            "if it is truncated, copy an intact checkpoints/epochNNN.ckpt over it") from None
    want = task.state_dict()
    ignore = tuple(getattr(task, "ckpt_ignore", ()))  # keys the task drops on load (old layouts)
    missing = sorted(set(want) - set(state))
    extra = sorted(k for k in set(state) - set(want) if not (ignore and k.startswith(ignore)))
    shape = [k for k in want if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    if missing or extra or shape:
        k = (shape or missing or extra)[0]
        what = f"has shape {tuple(state[k].shape)} where the config gives {tuple(want[k].shape)}" if shape \
            else "is missing" if missing else "is not in this config"
        raise SynthlabError(f"checkpoint {path} does not fit this config: key {k!r} {what} "
                            f"({len(missing)} missing, {len(extra)} unexpected, {len(shape)} wrong shapes)")
    return path


def job_overrides() -> list:
    """This job's overrides as Hydra recorded them (empty outside the CLI)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def run(cfg: DictConfig) -> dict:
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    torch.manual_seed(int(cfg.seed))
    quiet_lightning()
    try:
        needs_net = "net" in inspect.signature(get_class(cfg.task._target_)).parameters
        net = instantiate(cfg.network) if needs_net else None
        kw = {"net": net} if needs_net else {}
        if "optim" in inspect.signature(get_class(cfg.task._target_)).parameters:
            kw["optim"] = instantiate(cfg.optim)  # only tasks that optimise take one
        task = instantiate(cfg.task, **kw)
        resumed = find_resume(cfg)
        if resumed is not None:  # keep writing into the interrupted run's folder
            (out_dir / "resumed.txt").write_text(f"continued {resumed}\n")
            out_dir = resumed
            log.info("resuming %s from %s", resumed, resumed / "checkpoints" / "last.ckpt")
        task.out_dir = out_dir
        data = instantiate(cfg.data) if cfg.get("data") else None
        plain = OmegaConf.to_container(cfg, resolve=True)
        logger = start_logger(cfg, make_logger(cfg), plain)
        trainer = instantiate(cfg.trainer, logger=logger if logger is not None else False, plugins=[checkpoint_io()])
        if getattr(task, "predict_only", False):  # rendering tasks: nothing to train
            trainer.predict(task, return_predictions=False)
        else:
            ckpt = str(check_checkpoint(task, resumed / "checkpoints" / "last.ckpt")) if resumed is not None else None
            trainer.fit(task, datamodule=data, ckpt_path=ckpt, weights_only=True)
        if trainer.interrupted:
            raise KeyboardInterrupt
        metrics = task.save_outputs(out_dir, {"synthlab:config": OmegaConf.to_yaml(plain)})
        metrics.update(task=cfg.task.name, seed=int(cfg.seed), seconds=time.perf_counter() - start,
                       run_name=cfg.get("run_name") or "", status="ok", overrides=job_overrides())
        if logger is not None and hasattr(logger, "experiment") and hasattr(logger.experiment, "summary"):
            logger.experiment.summary.update({k: v for k, v in metrics.items() if not isinstance(v, list)})
            img = task.result() if hasattr(task, "result") else None
            if img is not None:
                logger.log_image(key="result", images=[img])
        write_json(out_dir / "metrics.json", metrics)  # last: its presence means the run finished
        log.info("wrote %s (%.1f s)", out_dir, metrics["seconds"])
        return metrics
    finally:
        finish_wandb()
