"""synthlab bench sweep: what the framework costs per sweep job.

Runs a real `synthlab -m` multirun of N tiny CPPN jobs (16x16 px, so the task itself is
milliseconds) with each logger, and reports the wall time per job minus the task's own time
(metrics.json `seconds`): Hydra composition, Lightning Trainer set-up, logger start and finish,
output writing. The first row is one plain `synthlab` process (interpreter + imports + one job).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from synthlab.bench import common_args, finish, machine, table


def run(args, cwd):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "synthlab", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"synthlab bench sweep: a job failed: {(r.stderr.strip().splitlines() or ['?'])[-1]}")
    return time.perf_counter() - t


def main(argv) -> int:
    p = argparse.ArgumentParser(prog="synthlab bench sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=6)
    p.add_argument("--loggers", nargs="+", default=["none", "csv", "wandb"])
    common_args(p, "sweep")
    a = p.parse_args(argv)
    tiny = ["task=cppn", "task.size=[16,16]"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        wall = run([*tiny, "logger=none", f"hydra.run.dir={tmp}/single"], tmp)
        rows.append({"what": "one `synthlab` process (logger=none)", "jobs": 1, "s_per_job": wall})
        for lg in a.loggers:
            sweep = Path(tmp) / f"sweep_{lg}"
            seeds = ",".join(str(i) for i in range(a.jobs))
            wall = run(["-m", *tiny, f"logger={lg}", f"seed={seeds}", f"hydra.sweep.dir={sweep}"], tmp)
            task = sum(json.loads(m.read_text())["seconds"] for m in sweep.glob("*/metrics.json"))
            rows.append({"what": f"multirun, logger={lg}", "jobs": a.jobs, "s_per_job": wall / a.jobs,
                         "task_s_per_job": task / a.jobs, "overhead_s": (wall - task) / a.jobs})
    text = table(rows, [("what", "what", ""), ("jobs", "jobs", ""), ("s_per_job", "wall s/job", ".2f"),
                        ("task_s_per_job", "run(cfg) s/job", ".2f"), ("overhead_s", "overhead s/job", ".2f")])
    text += ("\n(run(cfg) s/job is metrics.json `seconds`: nets, Trainer, logger start, outputs; the rest is "
             "the interpreter, imports, Hydra, the launcher and closing the logger)")
    return finish("sweep", a, machine(a.device), {"rows": rows}, text)
