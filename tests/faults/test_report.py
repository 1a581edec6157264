"""Fault suite, reports: one bad run folder never breaks `synthlab report`; bad runs are listed
as bad with the reason, the rest ranked (NaN and infinity last); and the report never writes
through a symlink planted in the sweep folder."""

import json

import numpy as np
from conftest import cli
from PIL import Image

from synthlab.io import save_png, write_json


def make_run(root, name, swd, image=True):
    d = root / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text(f"- seed={name}\n")
    write_json(d / "metrics.json", {"status": "ok", "swd": swd, "copy32": 0.1, "copy64": 0.0, "seconds": 1.0,
                                    "run_name": name})
    if image:
        rng = np.random.default_rng(len(name))
        save_png(d / "texture.png", Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)))
    return d


def test_bad_runs_are_listed_as_bad_and_the_rest_ranked_nan_last(tmp_path):
    root = tmp_path / "sweep"
    make_run(root, "good", 120.0)
    make_run(root, "better", 80.0)
    make_run(root, "nan", float("nan"))
    make_run(root, "inf", float("inf"))
    cut = make_run(root, "cut_metrics", 1.0)
    (cut / "metrics.json").write_text('{"status": "ok", "sw')
    png = make_run(root, "cut_png", 90.0)
    (png / "texture.png").write_bytes((png / "texture.png").read_bytes()[:60])
    ovr = make_run(root, "bad_overrides", 70.0)
    (ovr / ".hydra" / "overrides.yaml").write_text("- [unclosed\n")
    r = cli("report", str(root))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    rows = [l.split("|") for l in r.stdout.splitlines() if l.startswith("| ")][1:]
    ranked = [c[2].strip() for c in rows if c[1].strip().isdigit()]
    assert ranked == ["better", "cut_png", "good", "inf", "nan"]  # a cut PNG still has its metrics
    bad = {c[2].strip(): c[3].strip() for c in rows if c[1].strip() == "bad"}
    assert set(bad) == {"cut_metrics", "bad_overrides"}
    assert bad["cut_metrics"].startswith("cannot read metrics.json") and "overrides.yaml" in bad["bad_overrides"]
    page = (root / "report.html").read_text()
    assert "cut_metrics (bad): cannot read metrics.json" in page
    # the sheet shows the readable runs' images (a one-axis sweep once drew only empty cells)
    a = np.asarray(Image.open(root / "contact_sheet.png").convert("RGB")).astype(int)
    red = (a[..., 0] > 200) & (a[..., 1] < 60) & (a[..., 2] < 60)  # the boxes of bad runs
    coloured = ((a.max(2) - a.min(2)) > 30) & ~red
    assert coloured.sum() > 4 * 32 * 32 * 0.5  # the thumbnails of good, better, nan, inf
    saved = json.loads((root / "report.json").read_text())
    assert {r["dir"]: r["status"] for r in saved}["cut_metrics"] == "bad"


def test_report_never_writes_through_a_symlink(tmp_path):
    root = tmp_path / "sweep"
    make_run(root, "a", 1.0)
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("report.html", "contact_sheet.png", "report.md", "report.json"):
        (outside / name).write_text("precious\n")
        (root / name).symlink_to(outside / name)
    r = cli("report", str(root))
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ("report.html", "contact_sheet.png", "report.md", "report.json"):
        assert (outside / name).read_text() == "precious\n"  # untouched
        assert (root / name).is_file() and not (root / name).is_symlink()


def test_report_draws_one_curve_per_run_and_ignores_bad_rows(tmp_path):
    """curves.png: a panel per logged metric, a line per run in its own colour; rows that are
    not numbers (cut, edited, NaN) are left out, never an error."""
    from synthlab.report import main

    for i, act in enumerate(["relu", "elu"]):
        d = tmp_path / f"job{i}"
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- network/activation={act}\n")
        rows = [{"evals": e, "phase": 0, "loss": 10.0 / (e + i)} for e in range(1, 40, 5)]
        rows.append({"evals": 50, "phase": 0, "loss": float("nan")})
        (d / "metrics.json").write_text(json.dumps({"status": "ok", "swd": 1.0 + i, "per_step": rows}))
    (tmp_path / "job2").mkdir()
    (tmp_path / "job2" / "metrics.json").write_text(json.dumps({"status": "ok", "per_step": ["cut", 3]}))
    assert main([str(tmp_path)]) == 0
    img = Image.open(tmp_path / "curves.png").convert("RGB")
    colours = {c for _, c in img.getcolors(1 << 20)}
    assert (0x1f, 0x77, 0xb4) in colours and (0xff, 0x7f, 0x0e) in colours  # two runs, two lines
    assert 'src="curves.png"' in (tmp_path / "report.html").read_text()


def test_report_curves_picks_the_metrics_it_plots(tmp_path):
    """--curves draws the named metrics (the GAN trade-off's, past the first six logged) and
    only those: one panel each."""
    from synthlab.report import main

    for i, width in enumerate([6, 4]):
        d = tmp_path / f"job{i}"
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- network.width={width}\n")
        rows = [{"epoch": e, **{f"m{k}": float(k + e) for k in range(7)}, "class_consistency": e / (10 + i),
                 "render_png_bpp": 2.0 - e / 10} for e in range(1, 6)]
        (d / "metrics.json").write_text(json.dumps({"status": "ok", "per_epoch": rows}, sort_keys=True))  # as written
    assert main([str(tmp_path)]) == 0
    six = Image.open(tmp_path / "curves.png").size
    assert main([str(tmp_path), "--curves", "class_consistency,render_png_bpp,no_such"]) == 0
    two = Image.open(tmp_path / "curves.png").size
    assert two[0] == six[0] * 2 // 3 and two[1] < six[1]  # 2 panels in one row instead of 6 in two
