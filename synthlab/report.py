"""`synthlab report DIR`: the runs of a multirun folder (or any folder of runs) as one table.

Each run folder holds metrics.json when it finished and error.txt when it failed. The table
is sorted by the chosen metric (SWD by default: lower is closer to the exemplar), printed,
and written as DIR/report.md and DIR/report.json, with a contact sheet (DIR/contact_sheet.png)
and a static HTML dashboard (DIR/report.html; see synthlab.report_html).

`--over KEY` (e.g. task.exemplar or seed) folds that sweep axis: one row per setting of the
other overrides, with the mean and the worst value of each metric over KEY's values, so a
conclusion does not rest on one exemplar or one draw (written as DIR/report_over_KEY.md).
"""

import argparse
import json
import math
import re
import sys
from pathlib import Path

from synthlab.io import write_json, write_text
from synthlab.runfolder import RunFolder, runs_under

# metrics shown when any run has them, in this order (texture, then CPPN complexity)
KNOWN = ["swd", "swd_band", "swd_floor", "swd_band_floor", "copy32", "copy64", "grain_ratio", "png_bpp", "grad",
         "hf_share", "std", "params", "seconds"]


def columns(runs: list[dict]) -> list[str]:
    return [c for c in KNOWN if any(isinstance(r.get(c), (int, float)) for r in runs)]


def read_run(folder: RunFolder) -> dict:
    """One run folder's row: its overrides and metrics (status ok), its error (failed), or,
    when a file cannot be read (cut by a kill, a full disk, edited by hand), status bad and
    which file and why; one bad run never stops the report."""
    import yaml

    row, ovr, what = {}, folder.path / ".hydra" / "overrides.yaml", None
    try:
        if ovr.exists():
            what = ovr
            row["overrides"] = [str(o) for o in (yaml.safe_load(ovr.read_text()) or [])]
        if folder.metrics_file.exists():
            what = folder.metrics_file
            metrics = json.loads(what.read_text())
            if not isinstance(metrics, dict):
                raise ValueError("not a JSON object")
            row.update(metrics)
        else:
            what = folder.error_file
            row.update(status="failed", error=what.read_text(errors="replace").strip())
    except (OSError, ValueError, TypeError, yaml.YAMLError) as e:
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        row.update(status="bad", error=f"cannot read {what.name}: {reason}")
    return row


def collect(root: Path) -> list[dict]:
    return [{"dir": str(f.path.relative_to(root)) or ".", **read_run(f)} for f in runs_under(root)]


def finite_last(v) -> tuple:
    """Sort key: numbers ascending; NaN, infinities and missing values after them."""
    ok = isinstance(v, (int, float)) and math.isfinite(v)
    return (not ok, v if ok else 0.0)


def stat(values: list, how) -> float:
    """how(values) over numbers; NaN when any is missing or NaN (it shows, and ranks last)."""
    if not all(isinstance(x, (int, float)) and not math.isnan(x) for x in values):
        return float("nan")
    return how(values)


def table(runs: list[dict], sort: str | None = None) -> str:
    cols = columns(runs)
    sort = sort or ("swd" if "swd" in cols else None)
    ok = [r for r in runs if r.get("status") == "ok"]
    if sort:
        ok.sort(key=lambda r: finite_last(r.get(sort)))
    lines = ["| rank | run | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for i, r in enumerate(ok, 1):
        vals = [f"{r[c]:.3g}" if isinstance(r.get(c), (int, float)) else "" for c in cols]
        lines.append(f"| {i} | {r.get('run_name') or r['dir']} | " + " | ".join(vals) + " |")
    for r in runs:
        if r.get("status") != "ok":
            status = r.get("status", "failed")
            lines.append(f"| {status} | {r['dir']} | {r.get('error', '')} |" + " |" * (len(cols) - 1))
    return "\n".join(lines)


WORST = {"grad": min, "png_bpp": min, "hf_share": min, "std": min}  # others: higher is worse


def fold(runs: list[dict], key: str, skip=("logger", "hydra.")) -> str:
    """Mean and worst of each metric over the values of `key`, per setting of the rest."""
    groups: dict[str, list[dict]] = {}
    shared = set.intersection(*(set(r.get("overrides", [])) for r in runs)) if runs else set()
    for r in runs:
        if r.get("status") != "ok":
            continue
        rest = [o for o in r.get("overrides", []) if not o.startswith((key + "=", *skip)) and o not in shared]
        groups.setdefault(" ".join(sorted(rest)) or "(all)", []).append(r)
    cols = [c for c in columns(runs) if c != "params"]
    lines = ["| setting | n | " + " | ".join(f"{c} mean | {c} worst" for c in cols) + " |",
             "|---" * (2 * len(cols) + 2) + "|"]
    mean = lambda v: sum(v) / len(v)
    first = cols[0] if cols else None
    order = sorted(groups.items(), key=lambda kv: finite_last(stat([r.get(first) for r in kv[1]], mean)))
    for name, rs in order:
        vals = []
        for c in cols:
            v = [r.get(c) for r in rs]
            vals += [f"{stat(v, mean):.3g}", f"{stat(v, WORST.get(c, max)):.3g}"]
        lines.append(f"| {name} | {len(rs)} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def ablation(runs: list[dict], key: str, skip=("logger", "hydra.")) -> str:
    """Which value of `key` is best, averaged over the other axes and seeds, and is the
    difference bigger than seed noise? Per value: n, mean +- sd of each metric. For the first
    metric, its difference from the best value, paired over the settings of the other axes
    (seeds averaged), against the seed noise: the pooled sd of runs that differ only in their
    seed. |difference| > 2 standard errors is marked significant; with one seed per setting
    there is no noise estimate and the mark is `?`."""
    from statistics import mean, stdev

    from synthlab.report_html import value

    ok = [r for r in runs if r.get("status") == "ok"]
    floors = ("swd_floor", "swd_band_floor")
    cols = [c for c in columns(ok) if c not in ("params", "seconds", *floors)][:4]  # floor: the exemplar's
    if not cols:
        return ""
    first, better = cols[0], (max if cols[0] in WORST else min)  # WORST: metrics where low is bad

    def setting(r):
        return " ".join(sorted(o for o in r.get("overrides", []) if not o.startswith((key + "=", "seed=", *skip))))

    cells: dict[tuple, list] = {}
    for r in ok:
        if isinstance(r.get(first), (int, float)) and math.isfinite(r[first]):
            cells.setdefault((value(r, key), setting(r)), []).append(r[first])
    replicated = [c for c in cells.values() if len(c) > 1]
    dof = sum(len(c) - 1 for c in replicated)
    noise = math.sqrt(sum((x - mean(c)) ** 2 for c in replicated for x in c) / dof) if dof else None
    per_cell = round(mean(len(c) for c in cells.values())) if cells else 1
    vals = sorted({v for v, _ in cells})
    means = {v: mean(x for (vv, _), c in cells.items() if vv == v for x in c) for v in vals}
    best = better(vals, key=lambda v: means[v]) if vals else None
    head = [f"| {key} | n | " + " | ".join(f"{c} mean ± sd" for c in cols) + f" | {first} vs best | significant? |",
            "|---" * (len(cols) + 4) + "|"]
    rows = []
    for v in sorted(vals, key=lambda v: means[v], reverse=better is max):
        rs = [r for r in ok if value(r, key) == v]
        stats = []
        for c in cols:
            xs = [r[c] for r in rs if isinstance(r.get(c), (int, float)) and math.isfinite(r[c])]
            stats.append(f"{mean(xs):.3g} ± {stdev(xs):.2g}" if len(xs) > 1 else (f"{xs[0]:.3g}" if xs else ""))
        pairs = [mean(c) - mean(cells[(best, s)]) for (vv, s), c in cells.items() if vv == v and (best, s) in cells]
        if v == best:
            diff, verdict = "", "best"
        elif not pairs or noise is None:
            diff, verdict = (f"{mean(pairs):+.3g}" if pairs else ""), "? (one seed: no noise estimate)"
        else:
            se = noise * math.sqrt(2 / per_cell) / math.sqrt(len(pairs))
            d = mean(pairs)
            diff, z = f"{d:+.3g}", abs(d) / se
            verdict = f"yes ({z:.1f} SE)" if z > 2 else f"no (within seed noise, {z:.1f} SE)"
        rows.append(f"| {v} | {len(rs)} | " + " | ".join(stats) + f" | {diff} | {verdict} |")
    note = (f"seed noise of {first}: sd {noise:.3g} over {dof} degrees of freedom" if noise is not None
            else "one run per setting: no seed noise estimate")
    return "\n".join(head + rows + ["", note])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="synthlab report", description=__doc__)
    p.add_argument("dir", type=Path)
    p.add_argument("--sort", default=None, help="metric to rank by (default: swd when present)")
    p.add_argument("--over", help="fold this sweep axis into mean and worst, e.g. task.exemplar")
    p.add_argument("--curves", help="metrics to plot in curves.png, comma-separated (default: the first six logged)")
    a = p.parse_args(argv)
    if not a.dir.is_dir():
        print(f"synthlab: error: no such folder: {a.dir}", file=sys.stderr)
        return 2
    runs = collect(a.dir)
    if not runs:
        print(f"synthlab: error: no runs (metrics.json or error.txt) under {a.dir}", file=sys.stderr)
        return 2
    from synthlab.report_html import axes, contact_sheet, curves, dashboard

    if a.over and a.over not in axes(runs):
        print(f"synthlab: error: {a.over} is not swept in {a.dir}: its swept keys are "
              f"{', '.join(axes(runs)) or 'none'}", file=sys.stderr)
        return 2
    text = fold(runs, a.over) + "\n\n" + ablation(runs, a.over) if a.over else table(runs, a.sort)
    print(text)
    cols = columns(runs)
    metric = a.sort or ("swd" if "swd" in cols else (cols[0] if cols else None))
    sheet = contact_sheet(a.dir, runs, metric, group=a.over)
    plot = curves(a.dir, runs, only=a.curves.split(",") if a.curves else None)
    page = dashboard(a.dir, runs, cols, plot)
    # the folded table is its own file: `--over` never replaces the plain report
    md = a.dir / (f"report_over_{re.sub(r'[^A-Za-z0-9._-]+', '_', a.over)}.md" if a.over else "report.md")
    print(f"wrote {md}, {sheet}, {plot or '(no curves)'}, {page}")
    write_text(md, text + "\n")
    write_json(a.dir / "report.json", runs)
    return 0
