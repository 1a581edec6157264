"""logger=tensorboard as the local dashboard: a real 3 x 3 sweep, a real TensorBoard on a
loopback port, its HParams data and its page in headless Chromium."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import TINY, cli
from PIL import Image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (.ci/run installs Debian's)"),
    pytest.mark.skipif(subprocess.run([sys.executable, "-c", "import tensorboard"]).returncode != 0,
                       reason="tensorboard not installed: pip install -e '.[dashboard]'"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def test_hparams_view_compares_a_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    r = cli("-m", *[t for t in TINY if not t.startswith("logger")], "task.phases=1", "logger=tensorboard",
            "network/activation=relu,elu,lrelu", "critic.patches.variety=0.1,0.5,1.0", f"hydra.sweep.dir={sweep}",
            cwd=tmp_path, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    port = free_port()
    tb = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(sweep), "--host", "127.0.0.1",
                           "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        t = time.monotonic()
        while True:  # TensorBoard reads the event files in the background
            try:
                groups = post(base + "/data/plugin/hparams/session_groups",
                              {"experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS"],
                               "colParams": [], "startIndex": 0, "sliceSize": 100})
                if groups.get("totalSize") == 9:
                    break
            except OSError:
                pass
            assert time.monotonic() - t < 60, "TensorBoard did not list the 9 runs"
            time.sleep(1)
        seen = {(g["hparams"]["network/activation"], g["hparams"]["critic.patches.variety"]) for g in groups["sessionGroups"]}
        assert seen == {(a, v) for a in ("relu", "elu", "lrelu") for v in (0.1, 0.5, 1.0)}
        assert all(any(m["name"]["tag"] == "final/swd" for m in g["metricValues"]) for g in groups["sessionGroups"])
        shot = tmp_path / "hparams.png"
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1600,900",
                        "--virtual-time-budget=15000", f"--screenshot={shot}", base + "/#hparams"],
                       capture_output=True, timeout=120)
        img = Image.open(shot).convert("RGB")
        header = img.getpixel((800, 20))  # TensorBoard's orange bar: the app rendered, not an error page
        assert header[0] > 200 and 80 < header[1] < 160 and header[2] < 60, header
        assert len(img.getcolors(1 << 20)) > 50  # text and a table, not a blank page
    finally:
        tb.terminate()
        tb.wait(timeout=30)
