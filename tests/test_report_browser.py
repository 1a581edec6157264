"""The HTML dashboard in a real headless Chromium (Debian's chromium; .ci/run installs it)."""

import re
import shutil
import subprocess

import pytest
import torch
from conftest import cli

from synthlab.io import save_png, write_json

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, *args):
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                       capture_output=True, text=True, timeout=120)
    return r.stdout


def make_sweep(root):
    for i, (act, swd) in enumerate([("relu", 30.0), ("elu", 10.0), ("lrelu", 20.0)]):
        d = root / f"job{i}"
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- network/activation={act}\n- seed={i}\n")
        save_png(d / "texture.png", torch.rand(3, 16, 16))
        write_json(d / "metrics.json", {"status": "ok", "swd": swd, "copy32": 0.1 * i, "copy64": 0.0,
                                        "seconds": 1.0, "run_name": act})
    (root / "job9").mkdir()
    (root / "job9" / "error.txt").write_text("exemplar not found: x.png\n")


def test_dashboard_loads_shows_every_run_and_sorts(tmp_path):
    root = tmp_path / "sweep"
    make_sweep(root)
    assert cli("report", str(root)).returncode == 0
    page = root / "report.html"
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.count('class="cell run"') == 3 and dom.count("<img") == 3
    assert "exemplar not found" in dom
    # click the swd header (column 3: run, network/activation, seed, swd) inside the browser
    clicked = root / "clicked.html"
    clicked.write_text(page.read_text().replace(
        "</body>", "<script>document.querySelectorAll('#metrics th')[3].click()</script></body>"))
    dom = chromium(tmp_path, "--dump-dom", clicked.as_uri())
    body = dom[dom.index("<tbody>"):dom.index("</tbody>")]
    order = re.findall(r'<td class="l" data-v="(job\d)"', body)
    assert order == ["job1", "job2", "job0"]  # swd 10, 20, 30
    shot = tmp_path / "dashboard.png"
    chromium(tmp_path, "--window-size=1000,900", f"--screenshot={shot}", page.as_uri())
    assert shot.stat().st_size > 10_000
