"""run(cfg): one job from a composed config. Plain function, so tests call it without the CLI."""

import logging
import time
from pathlib import Path

import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate as _instantiate
from omegaconf import DictConfig, OmegaConf

from synthlab.errors import SynthlabError
from synthlab.io import write_json

log = logging.getLogger("synthlab")


def instantiate(node, *args, **kwargs):
    """hydra's instantiate, but a SynthlabError inside comes out as itself, not wrapped."""
    try:
        return _instantiate(node, *args, **kwargs)
    except InstantiationException as e:
        cause = e
        while cause is not None and not isinstance(cause, SynthlabError):
            cause = cause.__cause__
        raise (cause or e) from None


def make_logger(cfg: DictConfig):
    """The configured Lightning logger, or None. W&B never blocks: offline unless asked."""
    lcfg = cfg.get("logger")
    if not lcfg or "_target_" not in lcfg:
        return None
    extra = {}
    if "Wandb" in lcfg._target_:
        extra = {"name": lcfg.get("name") or cfg.get("run_name") or None,
                 "settings": {"init_timeout": 30, "silent": True}}
    return instantiate(lcfg, **extra)


def finish_wandb():
    """Close the W&B run so the next multirun job starts its own (never merges into this one)."""
    import sys

    if "wandb" in sys.modules:
        import wandb

        if wandb.run is not None:
            wandb.finish()


def run(cfg: DictConfig) -> dict:
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    torch.manual_seed(int(cfg.seed))
    try:
        net = instantiate(cfg.network)
        task = instantiate(cfg.task, net=net, optim=instantiate(cfg.optim))
        task.out_dir = out_dir
        logger = make_logger(cfg)
        trainer = instantiate(cfg.trainer, logger=logger if logger is not None else False)
        plain = OmegaConf.to_container(cfg, resolve=True)
        if logger is not None:
            logger.log_hyperparams(plain)
        trainer.fit(task)
        if trainer.interrupted:
            raise KeyboardInterrupt
        metrics = task.save_outputs(out_dir, {"synthlab:config": OmegaConf.to_yaml(plain)})
        metrics.update(task=cfg.task.name, seed=int(cfg.seed), seconds=time.perf_counter() - start,
                       run_name=cfg.get("run_name") or "", status="ok")
        if logger is not None and hasattr(logger, "experiment") and hasattr(logger.experiment, "summary"):
            logger.experiment.summary.update({k: v for k, v in metrics.items() if not isinstance(v, list)})
            logger.log_image(key="result", images=[task.result()])
        write_json(out_dir / "metrics.json", metrics)  # last: its presence means the run finished
        log.info("wrote %s (%.1f s)", out_dir, metrics["seconds"])
        return metrics
    finally:
        finish_wandb()
