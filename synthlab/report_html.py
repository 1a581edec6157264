"""Contact sheet and static HTML dashboard for a folder of runs (used by `synthlab report`).

The sheet lays the runs out on the two sweep axes with the most values (rows x columns),
each cell labelled with its values and headline metric; texture runs add their exemplar as the
first column, so output and exemplar are judged side by side. The HTML page opens from file://
with no server: the image grid, a metric table sortable by clicking its headers, each run's
differing overrides, and the failed jobs with their errors. Every user-provided string is
escaped; image links are relative and must resolve inside the folder.
"""

import html
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from synthlab.io import save_png, write_text

IMAGES = ("texture.png", "cppn.png", "conv_cppn.png", "fc_style.png", "class_grid.png", "samples")


def main_image(root: Path, run: dict) -> Path | None:
    d = (root / run["dir"]).resolve()
    for name in IMAGES:
        p = d / name
        if name == "samples" and p.is_dir():
            pngs = sorted(p.glob("*.png"))
            p = pngs[-1] if pngs else None
        if p is not None and p.is_file() and p.resolve().is_relative_to(root.resolve()):
            return p
    return None


def axes(runs: list[dict], first: str | None = None) -> list[str]:
    """Override keys whose values differ between runs, `first` first, then most values first."""
    values: dict[str, set] = {}
    for r in runs:
        for o in r.get("overrides", []):
            k, _, v = o.partition("=")
            values.setdefault(k, set()).add(v)
    varying = [k for k, v in values.items() if len(v) > 1]
    return sorted(varying, key=lambda k: (k != first, -len(values[k])))


def value(run: dict, key: str) -> str:
    for o in run.get("overrides", []):
        k, _, v = o.partition("=")
        if k == key:
            return v
    return "-"


def short(v: str, n: int = 40) -> str:
    """A label that fits the sheet's left column: a path's last parts."""
    return v if len(v) <= n else "..." + v[-(n - 3):]


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def thumb(path: Path, side: int) -> Image.Image | None:
    """The image scaled to fit side x side, small ones enlarged (nearest: pixels stay pixels)."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            k = side / max(im.size)
            return im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))),
                             Image.NEAREST if k > 1 else Image.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError):  # a cut or foreign image file
        return None


def contact_sheet(root: Path, runs: list[dict], metric: str | None, cell: int = 192,
                  path: Path | None = None, group: str | None = None) -> Path | None:
    """Two swept axes: rows x columns (`group`, e.g. report --over's key, as the rows). One
    axis (or none): a grid, wrapped near-square. Texture runs put their exemplar beside the
    output (one axis) or in a first column (two axes)."""
    ax = axes(runs, group)
    rows_key, cols_key = (ax + [None, None])[:2]
    exemplar = {}  # run dir or row value -> exemplar.png
    for r in runs:
        p = (root / r["dir"] / "exemplar.png").resolve()
        if p.is_file() and p.is_relative_to(root.resolve()):
            exemplar[r["dir"]] = p
            if rows_key:
                exemplar.setdefault(("row", value(r, rows_key)), p)
    if cols_key:  # a table: label column, [exemplar column], one column per value
        row_vals = sorted({value(r, rows_key) for r in runs})
        col_vals = sorted({value(r, cols_key) for r in runs})
        layout = [(i, j, [r for r in runs if value(r, rows_key) == rv and value(r, cols_key) == cv])
                  for i, rv in enumerate(row_vals) for j, cv in enumerate(col_vals)]
        ex_col = any(("row", rv) in exemplar for rv in row_vals)
        left, top, n_cols, n_rows = 150 + (cell if ex_col else 0), 36, len(col_vals), len(row_vals)
        cell_w = cell
    else:  # a grid of runs, labelled one by one; a texture cell is exemplar | output
        ordered = sorted(runs, key=lambda r: value(r, rows_key) if rows_key else r["dir"])
        pair = any(r["dir"] in exemplar for r in ordered)
        cell_w = 2 * cell if pair else cell
        n_cols = max(1, min(len(ordered), 6 if not pair else 3, round(len(ordered) ** 0.5 + 0.49)))
        n_rows = (len(ordered) + n_cols - 1) // n_cols
        layout = [(k // n_cols, k % n_cols, [r]) for k, r in enumerate(ordered)]
        left, top, ex_col = 0, 0, False
    band = 34  # labels under each cell
    sheet = Image.new("RGB", (left + cell_w * n_cols, top + (cell + band) * n_rows), "white")
    draw, font = ImageDraw.Draw(sheet), _font(13)
    if cols_key:
        for j, cv in enumerate(col_vals):
            label = f"{cols_key}=\n{short(cv, max(12, cell // 7))}"
            draw.text((left + j * cell + 4, 2), label, fill="black", font=font)
        if ex_col:
            draw.text((left - cell + 4, 2), "exemplar", fill="black", font=font)
        for i, rv in enumerate(row_vals):
            y = top + i * (cell + band)
            draw.text((4, y + cell // 2 - 14), f"{rows_key}=\n{short(rv, 20)}", fill="black", font=font)
            if ("row", rv) in exemplar and (im := thumb(exemplar[("row", rv)], cell - 8)) is not None:
                sheet.paste(im, (left - cell + 4, y + 4))
    for i, j, match in layout:
        if not match:
            continue
        r, x, y = match[0], left + j * cell_w, top + i * (cell + band)
        ok = r.get("status") == "ok"
        img = main_image(root, r) if ok else None
        text = "no image" if ok else r.get("status", "failed").upper()
        im = thumb(img, cell - 8) if img is not None else None
        if img is not None and im is None:
            text = "BAD IMAGE"
        if not cols_key and r["dir"] in exemplar and (ex := thumb(exemplar[r["dir"]], cell - 8)) is not None:
            sheet.paste(ex, (x + 4, y + 4))
            x += cell
        if im is not None:
            sheet.paste(im, (x + 4, y + 4))
            text = f"{metric} {r[metric]:.3g}" if metric and isinstance(r.get(metric), (int, float)) else "ok"
        else:
            draw.rectangle([x + 4, y + 4, x + cell - 4, y + cell - 4], outline="red", width=3)
        if not cols_key:  # each cell says what it is
            text = f"{short(value(r, rows_key), 40) if rows_key else short(r['dir'], 40)}  {text}"
            x = left + j * cell_w
        draw.text((x + 4, y + cell), text, fill="black" if im is not None else "red", font=font)
    path = path or root / "contact_sheet.png"
    save_png(path, sheet)
    return path


SERIES = ("per_step", "per_epoch")  # rows in metrics.json over a run
X_KEYS = ("evals", "step", "epoch")  # their x axis, where a row has one (else its first key)
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


def run_series(run: dict):
    """(x name, rows) of a run's curve, or None."""
    rows = next((run[k] for k in SERIES if isinstance(run.get(k), list) and run[k]
                 and all(isinstance(row, dict) and row for row in run[k])), None)
    if not rows:
        return None
    # metrics.json is written with sorted keys, so the x axis is named where it is known
    return next((k for k in X_KEYS if k in rows[0]), next(iter(rows[0]))), rows


def curves(root: Path, runs: list[dict], panel=(420, 240), most: int = 6, only: list | None = None) -> Path | None:
    """curves.png: one panel per logged metric (loss, g_loss, ...; `only` picks them), one line
    per run (log scale where a metric spans two decades), and a legend naming each run by its
    swept values."""
    import math

    ax = axes(runs)
    lines: dict[str, list] = {}
    labels = []
    for r in runs:
        got = run_series(r) if r.get("status") == "ok" else None
        if got is None:
            continue
        x, rows = got
        label = " ".join(f"{k}={value(r, k)}" for k in ax) or r["dir"]
        labels.append(label)
        for m in rows[0]:
            pts = [(row.get(x), row.get(m)) for row in rows]
            pts = [(a, b) for a, b in pts if all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                   and math.isfinite(v) for v in (a, b))]
            if m not in (x, "phase") and len(pts) > 1:
                lines.setdefault(m, []).append((len(labels) - 1, x, pts))
    if not lines:
        return None
    metrics = [m for m in only if m in lines] if only else list(lines)[:most]
    if not metrics:
        return None
    pw, ph = panel
    cols = min(3, len(metrics))
    legend_h = 18 * min(len(labels), 20) + 10
    sheet = Image.new("RGB", (pw * cols, ph * ((len(metrics) + cols - 1) // cols) + legend_h), "white")
    draw, font = ImageDraw.Draw(sheet), _font(12)
    for i, m in enumerate(metrics):
        ox, oy = (i % cols) * pw, (i // cols) * ph
        xs = [a for _, _, pts in lines[m] for a, _ in pts]
        ys = [b for _, _, pts in lines[m] for _, b in pts]
        log = min(ys) > 0 and max(ys) / min(ys) > 100
        f = (lambda v: math.log10(v)) if log else (lambda v: v)
        x0, x1, y0, y1 = min(xs), max(xs), f(min(ys)), f(max(ys))
        x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
        left, top, w, h = ox + 52, oy + 22, pw - 66, ph - 50
        draw.rectangle([left, top, left + w, top + h], outline="#999")
        draw.text((ox + 6, oy + 4), f"{m}{' (log)' if log else ''} vs {lines[m][0][1]}", fill="black", font=font)
        for v, yy in ((max(ys), top), (min(ys), top + h - 12)):
            draw.text((ox + 2, yy), f"{v:.3g}", fill="#555", font=font)
        draw.text((left, top + h + 4), f"{x0:g}", fill="#555", font=font)
        draw.text((left + w - 30, top + h + 4), f"{max(xs):g}", fill="#555", font=font)
        for k, _, pts in lines[m]:
            xy = [(left + (a - x0) / (x1 - x0) * w, top + h - (f(b) - y0) / (y1 - y0) * h) for a, b in pts]
            draw.line(xy, fill=COLOURS[k % len(COLOURS)], width=2)
    oy = ph * ((len(metrics) + cols - 1) // cols) + 4
    for k, label in enumerate(labels[:20]):
        draw.rectangle([8, oy + 18 * k + 3, 20, oy + 18 * k + 13], fill=COLOURS[k % len(COLOURS)])
        draw.text((26, oy + 18 * k), short(label, 110), fill="black", font=font)
    if len(labels) > 20:
        draw.text((300, oy), f"(+{len(labels) - 20} more runs)", fill="#555", font=font)
    path = root / "curves.png"
    save_png(path, sheet)
    return path


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} th{{cursor:pointer;background:#eee}}
td.l{{text-align:left}} .grid{{display:flex;flex-wrap:wrap;gap:8px}} .cell{{width:200px;font-size:12px}}
.cell img{{width:196px}} .failed{{color:#b00}}</style></head><body>
<h1>{title}</h1><p>{n_ok} finished, {n_failed} failed. Click a column header to sort.</p>
<div class="grid">{cells}</div>
{curves}
<h2>Metrics</h2><table id="metrics"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<h2>Failed jobs</h2><ul id="failed">{failed}</ul>
<script>
document.querySelectorAll('#metrics th').forEach(function (th, col) {{
  th.addEventListener('click', function () {{
    var body = document.querySelector('#metrics tbody');
    var rows = Array.from(body.rows), asc = th.dataset.asc !== '1';
    rows.sort(function (a, b) {{
      var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    }});
    th.dataset.asc = asc ? '1' : '0';
    rows.forEach(function (r) {{ body.appendChild(r); }});
  }});
}});
</script></body></html>"""


def dashboard(root: Path, runs: list[dict], cols: list[str], plot: Path | None = None) -> Path:
    e = lambda s: html.escape(str(s), quote=True)
    ax = axes(runs)
    ok = [r for r in runs if r.get("status") == "ok"]
    cells, rows = [], []
    for r in ok:
        img = main_image(root, r)
        src = e(img.relative_to(root.resolve()).as_posix()) if img else ""
        label = e(" ".join(f"{k}={value(r, k)}" for k in ax) or r["dir"])
        cells.append('<div class="cell run">' + (f'<img src="{src}" alt="{label}">' if src else "")
                     + f"<br>{label}</div>")
        tds = [f'<td class="l" data-v="{e(r["dir"])}">{e(r["dir"])}</td>']
        tds += [f'<td class="l" data-v="{e(value(r, k))}">{e(value(r, k))}</td>' for k in ax]
        for c in cols:
            v = r.get(c)
            tds.append(f'<td data-v="{e(v)}">{e(f"{v:.4g}" if isinstance(v, (int, float)) else "")}</td>')
        rows.append("<tr>" + "".join(tds) + "</tr>")
    head = "".join(f"<th>{e(h)}</th>" for h in ["run", *ax, *cols])
    failed = "".join(f'<li class="failed">{e(r["dir"])} ({e(r.get("status", "failed"))}): {e(r.get("error", ""))}</li>'
                     for r in runs if r.get("status") != "ok")
    page = PAGE.format(title=e(f"synthlab report: {root.name}"), n_ok=len(ok), n_failed=len(runs) - len(ok),
                       cells="".join(cells), head=head, rows="".join(rows), failed=failed or "<li>none</li>",
                       curves=f'<h2>Curves</h2><img id="curves" src="{plot.name}" alt="curves">' if plot else "")
    path = root / "report.html"
    write_text(path, page)
    return path
