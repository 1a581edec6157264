"""The `synthlab` command: a thin Hydra entry around run(cfg), plus `synthlab bench|report`.

Before Hydra starts: one-line checks of group options, keys, quoting and the run folder.
job() is Hydra's task function (sweep naming, skipping, the run-folder lock); guarded() is the
one wrapper that owns failure handling: a SynthlabError is one line (and error.txt); a full
disk or an unwritable folder is one line naming the file; a signal stops the run (exit 128+N);
anything else is one line plus the traceback in error.log. In a sweep a failing job is
recorded and the others go on.
"""

import difflib
import errno
import json
import logging
import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

from synthlab.errors import Stopped, SynthlabError, ignore_signals, received, stop_on_signals

log = logging.getLogger("synthlab")

# Hydra, OmegaConf and the rest are imported after the signal handlers are in place (main):
# a SIGTERM during start-up then stops the command with its one line, like any other.


def check_overrides(args) -> None:
    """One-line errors for unknown group options, before Hydra prints its own multi-line ones."""
    from synthlab.config import groups, options

    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~").removeprefix("override ").strip()
        opts = options(key)
        if opts is None or value in ("null", ""):
            if "/" in key:
                raise SynthlabError(f"unknown config group {key!r}; groups: {', '.join(groups())}")
            continue
        for v in value.strip("[]").split(","):
            if v.strip() not in opts:
                close = difflib.get_close_matches(v.strip(), opts, 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SynthlabError(f"unknown {key} {v.strip()!r}{hint}; choose one of: {', '.join(opts)}")


# keys that moved when critics, optimisers and data became their own groups
RENAMED = {"task.style_weight": "critic.patches.weight (texture) or critic.gram.weight (fc_style)",
           "task.variety": "critic.patches.variety", "task.layers": "critic.patches.layers",
           "task.match_every": "critic.patches.match_every", "task.match_dtype": "critic.patches.match_dtype",
           "task.match_budget_mb": "critic.patches.budget_mb", "task.critic": "critic (e.g. critic=reference)",
           "task.content_layers": "critic.content.layers", "task.content_weight": "critic.content.weight",
           "task.style_layers": "critic.gram.layers", "task.style_layer_weights": "critic.gram.layer_weights",
           "task.lr": "optim.lr", "task.beta1": "optim.betas", "task.size": "data.crop (task=gan, mnist_classifier)",
           "task.train_size": "nothing: gan_sample reads it from the checkpoint"}


QUOTE = ("a value with commas, '=', spaces, brackets or non-ASCII letters must be quoted for Hydra, inside "
         "the shell's quotes: 'task.exemplar=\"my,file.png\"'")


def parse_overrides(args, multirun: bool) -> list:
    """Hydra's parse of each override, or one line naming the one it cannot read and how to
    quote it. A single run with a list of values (a,b) is a sweep: it needs -m. In a sweep,
    every swept key must have at least one value. Returns the parsed overrides."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser, parsed = OverridesParser.create(), []
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            (o,) = parser.parse_overrides([arg])
        except HydraException:
            raise SynthlabError(f"cannot read the override {arg!r}: {QUOTE}") from None
        if o.is_sweep_override():
            values = list(o.sweep_string_iterator())
            if not multirun:
                raise SynthlabError(f"{arg!r} gives {len(values)} values: run them as a sweep with -m, or, if the "
                                    f"commas are part of one value, {QUOTE}")
            if not values:
                raise SynthlabError(f"the sweep over {o.get_key_element()} has no values ({arg!r}): nothing to run")
        elif o.get_key_element() == "sweep" and o.value() not in (None, "null") and not multirun:
            raise SynthlabError(f"sweep={o.value()} is a grid of jobs: run it with -m (synthlab -m sweep={o.value()})")
        parsed.append(o)
    return parsed


def check_keys(args) -> None:
    """Compose once (single runs only) so a misspelled key fails in one line with a suggestion."""
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    from synthlab.config import compose

    # a sweep's keys are checked with their first values: the same keys, one composition
    ovr = [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
           for o in parse_overrides(args, True) if not o.get_key_element().lstrip("+~").startswith("hydra.")]
    try:
        return compose(ovr)
    except (HydraException, OmegaConfBaseException) as e:
        cause = e.__cause__  # Hydra wraps the OmegaConf error that names the key it could not set
        key = cause.full_key if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) else None
        if not key:
            raise SynthlabError(str(e).strip().splitlines()[0]) from None
        if key in RENAMED:
            raise SynthlabError(f"no config key {key!r}: it is now {RENAMED[key]}") from None
        msg = f"no config key {key!r} (to add a new key use +{key}=...)"
        parent, _, leaf = key.rpartition(".")
        try:  # a suggestion from the keys that do exist there
            cfg = compose([a for a in ovr if not a.startswith(key + "=")])
            known = OmegaConf.select(cfg, parent) if parent else cfg
            close = difflib.get_close_matches(leaf, [str(k) for k in known.keys()], 1) if known is not None else []
            if close:
                msg += f"; did you mean {parent + '.' if parent else ''}{close[0]}?"
        except Exception:  # the suggestion is a courtesy; the error line stands without it
            pass
        raise SynthlabError(msg) from None


MIN_FREE = 1 << 20  # bytes: the config, the log and at least a small image
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def write_error(out: Path, line: str, log: str | None = None) -> bool:
    """error.txt (and error.log) in the run folder. Never raises: on a full disk or a read-only
    folder it returns False, and the caller's one line is all that is said."""
    from synthlab.io import write_text

    try:
        write_text(out / "error.txt", line + "\n")
        if log is not None:
            write_text(out / "error.log", log)
        return True
    except OSError:
        return False


def _fail(msg: str, code: int = 1):
    print(f"synthlab: error: {msg}", file=sys.stderr)
    sys.exit(code)


def sweep_name(hc) -> str:
    """A sweep job's name: the overrides that vary across the sweep, not every one given."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    given = [a for a in sys.argv[1:] if "=" in a and not a.startswith("-")]
    parsed = OverridesParser.create().parse_overrides(given)
    swept = set(hc.sweeper.get("params") or {}) | {o.get_key_element() for o in parsed if o.is_sweep_override()}
    return " ".join(o for o in hc.overrides.task if o.split("=", 1)[0] in swept)


def check_run_dir(args, multirun: bool = False) -> None:
    """The folder Hydra will write into (hydra.run.dir / hydra.sweep.dir, or outputs/) must be
    writable with some space left; a run folder given on the command line that holds a
    finished run, or one a live run is writing, is refused before Hydra writes anything."""
    key = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    given = [a.split("=", 1)[1] for a in args if a.startswith(key)]
    d = Path(given[-1]) if given else Path("outputs")
    try:  # a real write: permission bits say nothing to root
        d.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=d).close()
        free = shutil.disk_usage(d).free
    except OSError as e:
        raise SynthlabError(f"cannot write into the run folder {d}: {e.strerror or e}") from None
    if free < MIN_FREE:  # Hydra writes the config there first, and fails with a traceback
        raise SynthlabError(f"no space left for the run folder {d}: {free // 1024} KiB free on its disk")
    if not given or multirun:
        return  # a new folder for every run (date/time to the microsecond); sweep jobs lock their own
    from synthlab.io import RunLock

    pid = RunLock(d).holder()
    if pid:
        raise SynthlabError(f"run folder {d} is in use by another synthlab run (pid {pid})")
    if (d / "metrics.json").exists() and "force=true" not in args:
        raise SynthlabError(f"run folder {d} already holds a finished run (metrics.json): give another "
                            "hydra.run.dir, or add force=true to replace it")


def finished(out: Path, overrides: list) -> bool:
    """A job already done with these exact overrides: its metrics.json says so."""
    m = out / "metrics.json"
    if not m.exists():
        return False
    try:
        saved = json.loads(m.read_text())
    except ValueError:
        return False
    return saved.get("status") == "ok" and saved.get("overrides") == overrides


def job(cfg):
    """The Hydra task function (wrapped by hydra.main in start): one job of a run or a sweep."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from synthlab.io import RunLock

    from synthlab import slurm

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    out = Path(cfg.out_dir)
    if slurm.job_id():  # submitit's handlers only log SIGTERM: ours stop the run, and the
        stop_on_signals((slurm.preempt_signal(),))  # time-limit warning stops it to requeue
    if multirun:
        n = os.environ.get("SYNTHLAB_SWEEP_JOBS", "0")
        log.info("job %d of %s: %s", hc.job.num + 1, n if n != "0" else "?", " ".join(hc.overrides.task))
        with open_dict(cfg):
            cfg.run_name = sweep_name(hc)
            if cfg.get("logger") and "group" in cfg.logger and not cfg.logger.group:
                # W&B groups a sweep's runs: by its name (sweep files set it), else its folder
                cfg.logger.group = str(cfg.get("sweep_name") or Path(hc.sweep.dir).name).replace("/", "-")
        if not cfg.get("force") and finished(out, list(hc.overrides.task)):
            print(f"synthlab: skipping finished job {out} (force=true runs it again)", file=sys.stderr)
            return json.loads((out / "metrics.json").read_text())
        if (out / "checkpoints" / "last.ckpt").is_file() and not cfg.get("resume") and not cfg.get("force"):
            # a stopped, cancelled or requeued job: a re-run of the sweep continues it
            with open_dict(cfg):
                cfg.resume = str(out)
    lock = RunLock(out)
    if not lock.acquire():  # another live run writes here: leave its folder alone
        msg = f"run folder {out} is in use by another synthlab run (pid {lock.holder()})"
        if multirun:
            print(f"synthlab: skipping job: {msg}", file=sys.stderr)
            return None
        _fail(msg, 2)
    try:
        return guarded(cfg, out, multirun)
    finally:
        lock.release()


def guarded(cfg, out: Path, multirun: bool):
    """run(cfg), with every way it can end turned into its one line and its files."""
    from synthlab.run import run

    for old in ("metrics.json", "error.txt", "error.log"):  # this run's outcome, not a previous one's
        (out / old).unlink(missing_ok=True)
    try:
        try:
            return run(cfg)
        except Exception:
            if received:  # a library cut off by the signal failed on its way out: it is the stop
                raise Stopped(received[0]) from None
            raise
    except Stopped as e:  # a stopped sweep stops: the remaining jobs do not start
        from synthlab import slurm

        ignore_signals((e.signum,))
        msg = str(e)
        if slurm.job_id() and e.signum == slurm.preempt_signal():  # the time limit is near
            msg += "; " + slurm.requeue()
        write_error(out, msg)
        print(f"synthlab: {msg}: {out} is unfinished (no metrics.json)", file=sys.stderr)
        sys.exit(128 + e.signum)
    except SynthlabError as e:
        write_error(out, str(e))
        if multirun:
            print(f"synthlab: error in job {out}: {e}", file=sys.stderr)
            return None  # the other jobs of the sweep go on
        _fail(str(e))
    except OSError as e:
        if e.errno not in DISK_ERRORS:
            raise
        msg = f"{e.strerror} while writing {e.filename or out}"  # full disk, read-only or not ours
        write_error(out, msg)
        if multirun:
            print(f"synthlab: error in job {out}: {msg}", file=sys.stderr)
            return None
        _fail(msg)
    except Exception as e:  # a bug or a crash: one line here, the traceback in error.log
        if os.environ.get("SYNTHLAB_TRACEBACK"):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        write_error(out, f"{type(e).__name__}: {first}", traceback.format_exc())
        if multirun:  # one failing job must not take the sweep down
            print(f"synthlab: job {out} failed ({type(e).__name__}: {first[:200]}); see its error.log", file=sys.stderr)
            return None
        _fail(f"{type(e).__name__}: {first[:300]} (traceback in {out / 'error.log'}; "
              "SYNTHLAB_TRACEBACK=1 raises it)")


def main():
    stop_on_signals()  # first: a signal while starting up stops the command too
    # OpenMP threads that spin while they wait hold a core another process needs: two GAN runs
    # sharing 2 cores, 2 threads each, ran at 0.24-0.31x their solo speed; waiting passively
    # (read once, when torch loads its OpenMP runtime), at 0.71-0.83x (synthlab bench gan
    # --concurrent 2), and the fused step alone was no slower.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        start(sys.argv[1:])
    except Stopped as e:  # before or between jobs (inside one, job() has said where)
        print(f"synthlab: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)


HELP = """usage: synthlab [-m] [GROUP=OPTION | KEY=VALUE ...]     one run (or, with -m, a sweep)
       synthlab report DIR [--over KEY]                       compare the runs of a sweep
       synthlab bench texture|cppn|gan|sweep [...]            timings against references

tasks (task=...): {tasks}
groups: {groups}

useful overrides:
  task.exemplar=photo.jpg task.size=[384,512]     texture from your image, at any size
  network/activation=relu network/downsampling=maxpool
  critic=[patches,gram] critic.gram.weight=10      the texture's losses
  optim=adam optim.lr=0.02                         the optimiser and its settings
  logger=none | csv | tensorboard                  W&B (offline) is the default
  -m sweep=texture_act_down                        a grid from sweeps/ (synthlab report DIR after)
  --cfg job                                        print what a run is built from; run nothing

docs: README.md, docs/architecture.md, docs/reliability.md. Hydra's own options: synthlab --hydra-help
"""


def start(args):
    import hydra

    from synthlab.config import CONF, groups, options, register_resolvers

    if args in (["--help"], ["-h"]):
        print(HELP.format(tasks=", ".join(options("task")), groups=", ".join(groups())), end="")
        return
    if args and args[0] in ("bench", "report"):
        import importlib

        sys.exit(importlib.import_module(f"synthlab.{args[0]}").main(args[1:]))
    multirun = bool({"-m", "--multirun"} & set(args))
    try:
        check_overrides(args)
        parse_overrides(args, multirun)
        if not any(a.startswith("-") and a not in ("-m", "--multirun") for a in args):
            cfg = check_keys(args)
            if not multirun:  # a sweep's bad value fails its own job (error.txt), not the sweep
                from synthlab.checks import check

                check(cfg)  # before Hydra: one line, quickly, and no run folder
            check_run_dir(args, multirun)
    except SynthlabError as e:
        _fail(str(e), 2)
    os.environ.setdefault("WANDB_SILENT", "true")
    register_resolvers()
    hydra.main(version_base="1.3", config_path=CONF, config_name="config")(job)()


if __name__ == "__main__":
    main()
