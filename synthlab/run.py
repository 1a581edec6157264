"""run(cfg): one job from a composed config. build() makes the task tree with one instantiate;
run() fits or predicts it, saves its outputs and closes the logger. Plain functions, so tests
and `synthlab bench` build and run tasks exactly as the CLI does."""

import logging
import os
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from synthlab.config import instantiate
from synthlab.errors import SynthlabError
from synthlab.io import check_state, checkpoint_io, load_weights, write_text
from synthlab.runfolder import RunFolder, newest_resumable, rank
from synthlab.tasks.base import Task

log = logging.getLogger("synthlab")


def quiet_lightning():
    """Keep the console to what matters: Lightning's banner, tips and known-harmless warnings go."""
    import warnings

    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    for msg in (".*configure_optimizers.*returned `None`.*", ".*LeafSpec.*", ".*does not have many workers.*",
                ".*is smaller than the logging interval.*",
                ".*predict returned None.*", ".*module(s) in eval mode.*",
                # the GAN steps its lr schedule per epoch; a gated optimiser may not have stepped
                ".*lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`.*",
                # one process per job: on a machine with SLURM installed the hint is noise
                ".*`srun` command is available on your system but is not used.*"):
        warnings.filterwarnings("ignore", message=msg)


def seed_of(cfg: DictConfig) -> int:
    seed = cfg.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63 - 2**20:
        raise SynthlabError(f"seed must be an integer from 0 to 2**63 - 2**20 (derived seeds add to it), got {seed!r}")
    return seed


def build(cfg: DictConfig, out_dir) -> Task:
    """The task and everything under it (network, optimiser, critics, data): one instantiate."""
    seed_of(cfg)
    task = instantiate(cfg.task, out_dir=str(out_dir))
    if not isinstance(task, Task):
        raise SynthlabError(f"task._target_ {cfg.task._target_} is not a synthlab Task")
    return task


def resume_from(cfg: DictConfig) -> RunFolder | None:
    """The run folder to continue: cfg.resume as a path, or with true the newest unfinished
    run of this task (outputs/<task>/<date>/<time>) with checkpoints/last.ckpt."""
    if not cfg.get("resume"):
        return None
    if cfg.resume is not True:
        folder = RunFolder(str(cfg.resume))
        if not folder.checkpoint.is_file():
            raise SynthlabError(f"nothing to resume in {folder}: no checkpoints/last.ckpt there")
        return folder
    here = Path(cfg.out_dir).resolve()
    return newest_resumable(here.parents[1], here, cfg.task.name)


def check_checkpoint(task: Task, path: Path) -> Path:
    """A resume checkpoint that loads (weights only) and fits this task's keys and shapes."""
    ckpt = load_weights(path, "checkpoint", "; if it is truncated, copy an intact checkpoints/epochNNN.ckpt over it")
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    check_state(task.state_dict(), state, f"checkpoint {path}", task.stale_keys)
    return path


def job_choices() -> dict:
    """The group options this job was composed from (network/activation: elu, ...), so W&B and
    the PNG's text can group and filter by them; empty outside the CLI."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return {k: v for k, v in HydraConfig.get().runtime.choices.items() if not k.startswith("hydra/")}
    except ValueError:
        return {}


def job_overrides() -> list:
    """This job's overrides as Hydra recorded them (empty outside the CLI)."""
    from hydra.core.hydra_config import HydraConfig

    try:
        return list(HydraConfig.get().overrides.task)
    except ValueError:
        return []


def run(cfg: DictConfig) -> dict:
    start = time.perf_counter()
    out_dir = Path(cfg.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed_of(cfg))
    quiet_lightning()
    resumed = resume_from(cfg)
    # sweep.job holds out_dir (a sweep job that continues its own folder needs no other lock)
    other = resumed if resumed is not None and resumed.path.resolve() != out_dir.resolve() and rank() == 0 else None
    if other is not None and not other.acquire():
        raise SynthlabError(other.in_use())
    logger = None
    try:
        if resumed is not None:  # keep writing into the interrupted run's folder
            if rank() == 0:
                write_text(out_dir / "resumed.txt", f"continued {resumed}\n")
                resumed.clear_outcome()  # its error.txt said why it stopped: no longer so
            out_dir = resumed.path
            log.info("resuming %s from %s", resumed, resumed.checkpoint)
        task = build(cfg, out_dir)
        plain = {**OmegaConf.to_container(cfg, resolve=True), "choices": job_choices(), "overrides": job_overrides()}
        first = rank() == 0  # in a distributed run, only rank 0 logs and writes the outputs
        logger = instantiate(cfg.logger) if cfg.get("logger") and first else None
        if logger is not None:
            logger.log_hyperparams(plain)
        from synthlab.progress import Bar

        bar = [Bar()] if cfg.trainer.get("enable_progress_bar") else None
        extra = {}
        if cfg.trainer.get("strategy") == "ddp" and task.partial_steps:  # its steps leave parameters unused
            extra["strategy"] = "ddp_find_unused_parameters_true"
        trainer = instantiate(cfg.trainer, logger=logger if logger is not None else False,
                              plugins=[checkpoint_io()], callbacks=bar, **extra)
        if task.trains:
            ckpt = str(check_checkpoint(task, resumed.checkpoint)) if resumed else None
            trainer.fit(task, ckpt_path=ckpt, weights_only=True)
        else:
            trainer.predict(task, return_predictions=False)
        if trainer.interrupted:
            raise KeyboardInterrupt
        if not first:
            return {}
        metrics = task.save_outputs({"synthlab:config": OmegaConf.to_yaml(plain)})
        metrics.update(task=cfg.task.name, seed=int(cfg.seed), seconds=time.perf_counter() - start,
                       run_name=cfg.get("run_name") or "", status="ok", overrides=job_overrides(),
                       device=str(task.device), cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
                       slurm_job_id=os.environ.get("SLURM_JOB_ID"))
        if logger is not None:
            logger.log_summary(metrics)
            img = task.result()
            if img is not None:
                logger.log_images("result", [img])
        RunFolder(out_dir).write_metrics(metrics)  # last: its presence means the run finished
        log.info("wrote %s (%.1f s)", out_dir, metrics["seconds"])
        return metrics
    finally:
        if logger is not None:
            logger.close()
        if other is not None:
            other.release()
