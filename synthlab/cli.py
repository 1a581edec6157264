"""The `synthlab` command: a thin Hydra entry around run(cfg), plus `synthlab bench`."""

import difflib
import json
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf, open_dict

from synthlab.errors import SynthlabError

# conf/ sits beside the package in a checkout; a wheel carries it inside as synthlab/conf
_HERE = Path(__file__).resolve().parent
CONF = str(_HERE / "conf") if (_HERE / "conf").is_dir() else str(_HERE.parent / "conf")


def _options(group: str):
    d = Path(CONF) / group
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else None


def check_overrides(args) -> None:
    """One-line errors for unknown group options, before Hydra prints its own multi-line ones."""
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~").removeprefix("override ").strip()
        opts = _options(key)
        if opts is None or value in ("null", ""):
            if "/" in key:
                raise SynthlabError(f"unknown config group {key!r}; groups: {', '.join(_groups())}")
            continue
        for v in value.split(","):
            if v.strip() not in opts:
                close = difflib.get_close_matches(v.strip(), opts, 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SynthlabError(f"unknown {key} {v.strip()!r}{hint}; choose one of: {', '.join(opts)}")


def check_keys(args) -> None:
    """Compose once (single runs only) so a misspelled key fails in one line with a suggestion."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    ovr = [a for a in args if "=" in a and not a.startswith(("-", "hydra.", "+hydra.", "~hydra."))]
    try:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            compose("config", overrides=ovr)
    except (HydraException, OmegaConfBaseException) as e:
        msg = str(e).strip().splitlines()[0]
        key = msg.split("'")[1] if msg.count("'") >= 2 else ""
        if "Could not override" in msg and key:
            msg = f"no config key {key!r} (to add a new key use +{key}=...)"
            parent, _, leaf = key.rpartition(".")
            try:
                with initialize_config_dir(config_dir=CONF, version_base="1.3"):
                    cfg = compose("config", overrides=[a for a in ovr if not a.startswith(key + "=")])
                known = list(OmegaConf.select(cfg, parent).keys()) if parent else list(cfg.keys())
                close = difflib.get_close_matches(leaf, [str(k) for k in known], 1)
                if close:
                    msg += f"; did you mean {parent + '.' if parent else ''}{close[0]}?"
            except Exception:  # the suggestion is a courtesy; the error line stands without it
                pass
        raise SynthlabError(msg) from None
    finally:
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()


def _groups():
    root = Path(CONF)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and any(p.glob("*.yaml")))


def _fail(msg: str, code: int = 1):
    print(f"synthlab: error: {msg}", file=sys.stderr)
    sys.exit(code)


@hydra.main(version_base="1.3", config_path=CONF, config_name="config")
def hydra_main(cfg: DictConfig):
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from synthlab.run import run

    hc = HydraConfig.get()
    if hc.mode == RunMode.MULTIRUN:
        # name each job by what varies across the sweep, not by every override given
        from hydra.core.override_parser.overrides_parser import OverridesParser

        given = [a for a in sys.argv[1:] if "=" in a and not a.startswith("-")]
        parsed = OverridesParser.create().parse_overrides(given)
        swept = set(hc.sweeper.get("params") or {}) | {
            o.get_key_element() for o in parsed if o.is_sweep_override()}
        with open_dict(cfg):
            cfg.run_name = " ".join(o for o in hc.overrides.task if o.split("=", 1)[0] in swept)
    out = Path(cfg.out_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    if multirun:
        own_gpu(int(hc.job.num))
        n_jobs = hc.launcher.get("n_jobs") if "Joblib" in str(hc.launcher.get("_target_", "")) else None
        if n_jobs and n_jobs > 1:  # parallel jobs share the cores instead of oversubscribing them
            import torch

            torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))
    if multirun and not cfg.get("force") and finished(out, list(hc.overrides.task)):
        print(f"synthlab: skipping finished job {out} (force=true runs it again)", file=sys.stderr)
        return json.loads((out / "metrics.json").read_text())
    (out / "error.txt").unlink(missing_ok=True)
    try:
        return run(cfg)
    except SynthlabError as e:
        (out / "error.txt").write_text(f"{e}\n")
        if multirun:
            print(f"synthlab: error in job {out}: {e}", file=sys.stderr)
            return None  # the other jobs of the sweep go on
        _fail(str(e))
    except Exception as e:  # a bug or a crash: one line here, the traceback in error.log
        import traceback

        if os.environ.get("SYNTHLAB_TRACEBACK"):
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        (out / "error.txt").write_text(f"{type(e).__name__}: {first}\n")
        (out / "error.log").write_text(traceback.format_exc())
        if multirun:  # one failing job must not take the sweep down
            print(f"synthlab: job {out} failed ({type(e).__name__}: {first[:200]}); see its error.log", file=sys.stderr)
            return None
        _fail(f"{type(e).__name__}: {first[:300]} (traceback in {out / 'error.log'}; "
              "SYNTHLAB_TRACEBACK=1 raises it)")


def own_gpu(job_num: int) -> None:
    """With several GPUs visible, give each sweep job its own (round robin by job number): the
    joblib launcher does not place GPUs (hydra#1331). Set before CUDA starts in this process."""
    if "CUDA_VISIBLE_DEVICES" in os.environ and "," not in os.environ["CUDA_VISIBLE_DEVICES"]:
        return
    import torch

    n = torch.cuda.device_count()
    if n > 1:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(n)))).split(",")
        os.environ["CUDA_VISIBLE_DEVICES"] = visible[job_num % n]


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


def job_dir(override_dirname: str) -> str:
    """A sweep job's folder name from its overrides: readable, filesystem-safe, unique (hash),
    and the same on every re-run of the sweep, so finished jobs are found and skipped."""
    import hashlib
    import re

    slug = re.sub(r"[^A-Za-z0-9.=_,-]+", "-", override_dirname).strip("-")[:80] or "defaults"
    return f"{slug}_{hashlib.sha1(override_dirname.encode()).hexdigest()[:6]}"


OmegaConf.register_new_resolver("job_dir", job_dir, replace=True)


def main():
    args = sys.argv[1:]
    if args and args[0] in ("bench", "report"):
        import importlib

        sys.exit(importlib.import_module(f"synthlab.{args[0]}").main(args[1:]))
    try:
        check_overrides(args)
        if not {"-m", "--multirun"} & set(args) and not any(a.startswith("-") for a in args):
            check_keys(args)
    except SynthlabError as e:
        _fail(str(e), 2)
    os.environ.setdefault("WANDB_SILENT", "true")
    hydra_main()


if __name__ == "__main__":
    main()
