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


def axes(runs: list[dict]) -> list[str]:
    """Override keys whose values differ between runs, most values first."""
    values: dict[str, set] = {}
    for r in runs:
        for o in r.get("overrides", []):
            k, _, v = o.partition("=")
            values.setdefault(k, set()).add(v)
    varying = [k for k, v in values.items() if len(v) > 1]
    return sorted(varying, key=lambda k: -len(values[k]))


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


def contact_sheet(root: Path, runs: list[dict], metric: str | None, cell: int = 192) -> Path | None:
    ax = axes(runs)
    rows_key, cols_key = (ax + [None, None])[:2]
    row_vals = sorted({value(r, rows_key) for r in runs}) if rows_key else ["-"]
    col_vals = sorted({value(r, cols_key) for r in runs}) if cols_key else ["-"]
    if not rows_key:
        col_vals, cols_key = [r["dir"] for r in runs], None
    label_h, left = 40, 150
    exemplar = {}  # row value -> a run folder's exemplar.png
    for r in runs:
        p = (root / r["dir"] / "exemplar.png").resolve()
        if rows_key and p.is_file() and p.is_relative_to(root.resolve()):
            exemplar.setdefault(value(r, rows_key), p)
    if exemplar:
        left += cell
    sheet = Image.new("RGB", (left + cell * len(col_vals), label_h + (cell + label_h) * len(row_vals)), "white")
    draw, font = ImageDraw.Draw(sheet), _font(13)
    for j, cv in enumerate(col_vals):
        draw.text((left + j * cell + 4, 4), f"{cols_key or 'run'}=\n{short(cv, 26)}", fill="black", font=font)
    if exemplar:
        draw.text((left - cell + 4, 4), "exemplar", fill="black", font=font)
    for i, rv in enumerate(row_vals):
        y = label_h + i * (cell + label_h)
        draw.text((4, y + cell // 2), f"{rows_key or ''}=\n{short(rv, 20)}", fill="black", font=font)
        if rv in exemplar:
            try:
                with Image.open(exemplar[rv]) as im:
                    im = im.convert("RGB")
                    im.thumbnail((cell - 8, cell - 8))
                    sheet.paste(im, (left - cell + 4, y + 4))
            except (OSError, ValueError, Image.DecompressionBombError):
                draw.text((left - cell + 4, y + 4), "BAD IMAGE", fill="red", font=font)
        for j, cv in enumerate(col_vals):
            # one axis: a column per row value ("-"); no axis: a column per run folder
            in_col = (lambda r: value(r, cols_key) == cv) if cols_key else \
                (lambda r: True) if rows_key else (lambda r: r["dir"] == cv)
            match = [r for r in runs if (not rows_key or value(r, rows_key) == rv) and in_col(r)]
            if not match:
                continue
            r, x = match[0], left + j * cell
            ok = r.get("status") == "ok"
            img = main_image(root, r) if ok else None
            text = "no image" if ok else r.get("status", "failed").upper()
            if img is not None:
                try:
                    with Image.open(img) as im:
                        im = im.convert("RGB")
                        im.thumbnail((cell - 8, cell - 8))
                        sheet.paste(im, (x + 4, y + 4))
                    text = f"{metric} {r[metric]:.3g}" if metric and isinstance(r.get(metric), (int, float)) else "ok"
                except (OSError, ValueError, Image.DecompressionBombError):  # a cut or foreign image file
                    img, text = None, "BAD IMAGE"
            if img is None:
                draw.rectangle([x + 4, y + 4, x + cell - 4, y + cell - 4], outline="red", width=3)
            draw.text((x + 4, y + cell + 2), text, fill="black" if img is not None else "red", font=font)
    path = root / "contact_sheet.png"
    save_png(path, sheet)
    return path


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} th{{cursor:pointer;background:#eee}}
td.l{{text-align:left}} .grid{{display:flex;flex-wrap:wrap;gap:8px}} .cell{{width:200px;font-size:12px}}
.cell img{{width:196px}} .failed{{color:#b00}}</style></head><body>
<h1>{title}</h1><p>{n_ok} finished, {n_failed} failed. Click a column header to sort.</p>
<div class="grid">{cells}</div>
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


def dashboard(root: Path, runs: list[dict], cols: list[str]) -> Path:
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
                       cells="".join(cells), head=head, rows="".join(rows), failed=failed or "<li>none</li>")
    path = root / "report.html"
    write_text(path, page)
    return path
