"""`synthlab report DIR`: the runs of a multirun folder (or any folder of runs) as one table.

Each run folder holds metrics.json when it finished and error.txt when it failed. The table
is sorted by the chosen metric (SWD by default: lower is closer to the exemplar), printed,
and written as DIR/report.md and DIR/report.json.
"""

import argparse
import json
from pathlib import Path

from synthlab.io import atomic_write, write_json

COLUMNS = ["swd", "copy32", "copy64", "seconds"]


def collect(root: Path) -> list[dict]:
    runs = []
    for d in sorted({p.parent for p in root.rglob("metrics.json")} | {p.parent for p in root.rglob("error.txt")}):
        row = {"dir": str(d.relative_to(root)) or "."}
        if (d / "metrics.json").exists():
            row.update(json.loads((d / "metrics.json").read_text()))
        else:
            row.update(status="failed", error=(d / "error.txt").read_text().strip())
        runs.append(row)
    return runs


def table(runs: list[dict], sort: str = "swd") -> str:
    ok = sorted((r for r in runs if r.get("status") == "ok"), key=lambda r: r.get(sort, float("inf")))
    lines = ["| rank | run | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for i, r in enumerate(ok, 1):
        vals = [f"{r[c]:.3g}" if isinstance(r.get(c), (int, float)) else "" for c in COLUMNS]
        lines.append(f"| {i} | {r.get('run_name') or r['dir']} | " + " | ".join(vals) + " |")
    for r in runs:
        if r.get("status") != "ok":
            lines.append(f"| failed | {r['dir']} | {r.get('error', '')} |" + " |" * (len(COLUMNS) - 1))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="synthlab report", description=__doc__)
    p.add_argument("dir", type=Path)
    p.add_argument("--sort", default="swd")
    a = p.parse_args(argv)
    if not a.dir.is_dir():
        print(f"synthlab: error: no such folder: {a.dir}")
        return 2
    runs = collect(a.dir)
    if not runs:
        print(f"synthlab: error: no runs (metrics.json or error.txt) under {a.dir}")
        return 2
    text = table(runs, a.sort)
    print(text)
    atomic_write(a.dir / "report.md", lambda tmp: Path(tmp).write_text(text + "\n"))
    write_json(a.dir / "report.json", runs)
    return 0
