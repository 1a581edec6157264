"""The `synthlab` command: maps arguments to a command and failures to exit codes.

    synthlab [-m] OVERRIDES...   one run, or a sweep: preflight checks, then Hydra runs
                                 sweep.job (a job's failures are guard's to handle)
    synthlab report|bench ...    the subcommands, each with its own argparse
    synthlab --help              usage.text()

Exit codes: 0 done; 1 a run (or any job of a sweep) failed; 2 a mistake found before
anything ran (one line, no run folder); 128+N stopped by signal N.
"""

import os
import sys

from synthlab.errors import Stopped, SynthlabError, fail, stop_on_signals

SUBCOMMANDS = ("bench", "report")


def main():
    stop_on_signals()  # first: a signal while starting up stops the command too
    # OpenMP threads that spin while they wait hold a core another process needs (two GAN
    # runs sharing 2 cores: 0.24-0.31x their solo speed spinning, 0.71-0.83x passive; see
    # `synthlab bench gan --concurrent 2`). Read once, when torch loads its OpenMP runtime.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        start(sys.argv[1:])
    except Stopped as e:  # before or between jobs (inside one, guard has said where)
        print(f"synthlab: {e}", file=sys.stderr)
        sys.exit(128 + e.signum)
    except BrokenPipeError:  # `synthlab ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def start(args):
    if args in (["--help"], ["-h"]):
        from synthlab.usage import text

        print(text(), end="")
        return
    if args and args[0] in SUBCOMMANDS:
        import importlib

        sys.exit(importlib.import_module(f"synthlab.{args[0]}").main(args[1:]))
    multirun = bool({"-m", "--multirun"} & set(args))
    dry = "--dry-run" in args
    args = [a for a in args if a != "--dry-run"]
    try:
        from synthlab.preflight import check

        if dry and not multirun:
            raise SynthlabError("--dry-run previews a sweep (synthlab -m ... --dry-run); for one run, "
                                "--cfg job prints what it is built from")
        check(args, multirun, dry)
        if dry:
            from synthlab.sweep import preview

            print(preview(args))
            return
    except SynthlabError as e:
        fail(str(e), 2)
    hydra_main()


def hydra_main():
    import hydra

    from synthlab.config import CONF, register_resolvers
    from synthlab.sweep import job

    os.environ.setdefault("WANDB_SILENT", "true")
    register_resolvers()
    hydra.main(version_base="1.3", config_path=CONF, config_name="config")(job)()


if __name__ == "__main__":
    main()
