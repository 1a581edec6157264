"""Jobs and sweeps: job() is Hydra's task function (one run, or one job of a sweep), and
SweepRecord is the callback that writes down what a sweep is before it starts (sweep.json in
its folder: the jobs, the swept keys, the overrides they all share) and tells the truth about
it when it ends: `k of N jobs failed (see ...)` and a non-zero exit, for every launcher.

Sweep jobs read sweep.json, never the environment: joblib workers and SLURM jobs see the
same folder. A job's folder name and its W&B run name show only the swept keys.
"""

import json
import logging
import sys
from pathlib import Path

from hydra.experimental.callback import Callback

from synthlab.io import write_json
from synthlab.runfolder import RunFolder, rank

log = logging.getLogger("synthlab")
RECORD = "sweep.json"


def grid(config) -> list[list[str]]:
    """The jobs of a sweep as the basic sweeper expands them: the sweep file's params, then the
    command line's overrides (a key in both: the command line's values), one list per job."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = config.hydra.sweeper.get("params") or {}
    args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    parsed = OverridesParser.create().parse_overrides(args)
    return [list(job) for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def describe(jobs: list[list[str]]) -> dict:
    """What tells the jobs apart: the keys with more than one value, and the overrides that
    every job shares (left out of folder and run names)."""
    shared = set(jobs[0]).intersection(*jobs[1:]) if len(jobs) > 1 else set()
    keys = {}
    for job in jobs:
        for o in job:
            k, _, v = o.partition("=")
            keys.setdefault(k, set()).add(v)
    return {"jobs": jobs, "swept": sorted(k for k, vs in keys.items() if len(vs) > 1), "shared": sorted(shared)}


def read_record(sweep_dir) -> dict:
    """sweep.json of a sweep folder; empty when there is none (a sweep from before it existed,
    or a launcher whose grid the basic sweeper cannot expand)."""
    try:
        return json.loads((Path(sweep_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return {}


class SweepRecord(Callback):
    """Configured under hydra.callbacks in conf/config.yaml; runs in the launching process."""

    def __init__(self, *, ok_if: str):
        self.ok_if = ok_if

    def on_multirun_start(self, config, **kwargs) -> None:
        try:
            record = describe(grid(config))
        except Exception:  # a sweeper of its own (e.g. an optimiser): jobs are still numbered
            record = {"jobs": [], "swept": [], "shared": []}
        write_json(Path(str(config.hydra.sweep.dir)) / RECORD, record)

    def on_multirun_end(self, config, **kwargs) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        n, failed = failed_jobs(sweep_dir, read_record(sweep_dir).get("jobs") or [])
        if not failed:
            print(f"synthlab: all {n} jobs finished ({sweep_dir})", file=sys.stderr)
            return
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        print(f"synthlab: {len(failed)} of {n} jobs failed (see {shown})", file=sys.stderr)
        if self.ok_if != "any":  # SystemExit: Hydra turns a callback's Exception into a warning
            raise SystemExit(1)


def failed_jobs(sweep_dir: Path, jobs: list[list[str]]) -> tuple[int, list[str]]:
    """How many jobs, and the folders of those that did not finish ('(not started: ...)' for a
    job with no folder): each job is found by the overrides Hydra recorded in its folder.
    Without a job list (a sweeper the record cannot expand), every job folder counts."""
    import yaml

    folders = {}
    for f in sweep_dir.glob("*/.hydra/overrides.yaml"):
        try:
            folders[tuple(sorted(yaml.safe_load(f.read_text()) or []))] = f.parents[1]
        except (OSError, yaml.YAMLError):
            continue
    if not jobs:
        return len(folders), [str(d) for d in sorted(folders.values()) if not RunFolder(d).finished()]
    out = []
    for job in jobs:
        d = folders.get(tuple(sorted(job)))
        if d is None:
            out.append(f"(not started: {' '.join(job)})")
        elif not RunFolder(d).finished():
            out.append(str(d))
    return len(jobs), out


def job_dir(sweep_dir: str, override_dirname: str) -> str:
    """A sweep job's folder name (the `job_dir` resolver in conf/config.yaml), with the shared
    overrides from the sweep's sweep.json."""
    return folder_name(override_dirname, set(read_record(sweep_dir).get("shared") or []))


def folder_name(override_dirname: str, shared: set) -> str:
    """Readable, filesystem-safe, unique (a hash of all the overrides), and the same on every
    re-run of the sweep, so finished jobs are found and skipped. Overrides every job shares are
    left out; a long name is cut between overrides."""
    import hashlib
    import re

    from synthlab.config import split_top

    kept, n = [], 0
    for pair in (p for p in split_top(override_dirname) if p and p not in shared):
        slug = re.sub(r"[^A-Za-z0-9.=_-]+", "-", pair).strip("-")
        if kept and n + len(slug) > 80:
            kept.append("etc")
            break
        kept.append(slug[:80])
        n += len(slug) + 1
    return f"{','.join(kept) or 'defaults'}_{hashlib.sha1(override_dirname.encode()).hexdigest()[:6]}"


def prepare(cfg, hc, folder: RunFolder) -> dict | None:
    """A sweep job before it runs: its run name (the swept overrides) and W&B group; the
    metrics of a job that already finished with these overrides (it is skipped); resume=the
    folder for a job that was stopped with a checkpoint (a re-run of the sweep continues it)."""
    from omegaconf import open_dict

    record = read_record(hc.sweep.dir)
    swept = set(record.get("swept") or [])
    log.info("job %d of %s: %s", hc.job.num + 1, len(record.get("jobs") or []) or "?", " ".join(hc.overrides.task))
    with open_dict(cfg):
        cfg.run_name = " ".join(o for o in hc.overrides.task if o.split("=", 1)[0] in swept)
        if cfg.get("logger") and "group" in cfg.logger and not cfg.logger.group:
            # W&B groups a sweep's runs: by its name (sweep files set it), else its folder
            cfg.logger.group = str(cfg.get("sweep_name") or Path(hc.sweep.dir).name).replace("/", "-")
    if cfg.get("force"):
        return None
    if folder.finished(list(hc.overrides.task)):
        print(f"synthlab: skipping finished job {folder} (force=true runs it again)", file=sys.stderr)
        return folder.metrics()
    if folder.checkpoint.is_file() and not cfg.get("resume"):
        with open_dict(cfg):
            cfg.resume = str(folder)
    return None


def job(cfg):
    """Hydra's task function: one job of a run or a sweep, in a folder it holds alone."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from synthlab import slurm
    from synthlab.errors import fail, stop_on_signals
    from synthlab.guard import guard

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    folder = RunFolder(cfg.out_dir)
    if rank() > 0:  # another process of rank 0's distributed run: it trains, rank 0 holds and writes
        from synthlab.run import run

        return run(cfg)
    if slurm.job_id():  # submitit's handlers only log SIGTERM: ours stop the run, and the
        stop_on_signals((slurm.preempt_signal(),))  # time-limit warning stops it to requeue
    if multirun and (done := prepare(cfg, hc, folder)) is not None:
        return done
    if not folder.acquire():  # another live run writes here: leave its folder alone
        if multirun:
            print(f"synthlab: skipping job: {folder.in_use()}", file=sys.stderr)
            return None
        fail(folder.in_use(), 2)
    try:
        return guard(cfg, folder, multirun)
    finally:
        folder.release()



def preview(args) -> str:
    """`synthlab -m ... --dry-run`: the sweep's folder, its N jobs, each one's folder name and
    overrides, as the run would make them. Composes once; runs and writes nothing."""
    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import open_dict

    from synthlab.config import compose, register_resolvers
    from synthlab.preflight import parse

    parsed = [o for o in parse(args, True) if not o.get_key_element().lstrip("+~").startswith("hydra.")]
    firsts = [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
              for o in parsed]
    register_resolvers()
    cfg = compose(firsts + [a for a in args if a.startswith("hydra.")], hydra=True)
    with open_dict(cfg):
        cfg.hydra.overrides.task = [o.input_line for o in parsed]
    jobs = grid(cfg)
    record, dirname = describe(jobs), cfg.hydra.job.config.override_dirname
    parser, shared = OverridesParser.create(), set(record["shared"])
    lines = [f"{len(jobs)} jobs in {cfg.hydra.sweep.dir} (swept: {', '.join(record['swept']) or 'nothing'})"]
    for k, job in enumerate(jobs, 1):
        name = get_overrides_dirname(parser.parse_overrides(job), list(dirname.exclude_keys),
                                     dirname.item_sep, dirname.kv_sep)
        varying = " ".join(o for o in job if o.split("=", 1)[0] in record["swept"]) or "(no swept keys)"
        lines.append(f"{k:>4}  {folder_name(name, shared)}  {varying}")
    if shared:
        lines.append(f"every job: {' '.join(sorted(shared))}")
    return "\n".join(lines + ["(dry run: nothing was run or written)"])
