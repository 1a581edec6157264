"""Fault suite, network: W&B offline (the default) never opens a network connection; online
with no network, a refused port or a server that never answers falls back to offline within 30 s,
saying so in one line. `unshare -n` (no network at all) is used where the machine allows it."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from conftest import TINY

CPPN = ["task=cppn", "task.size=[32,32]", "trainer.enable_progress_bar=false"]
ARGS = [a for a in TINY if not a.startswith("logger")]


def can_unshare():
    return shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def test_offline_default_opens_no_network_socket(make_cfg, monkeypatch, tmp_path):
    from synthlab.run import run

    tried = []
    real = socket.socket.connect

    def guard(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1", "localhost"):
            tried.append(address)
            raise OSError("network use in offline mode")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guard)
    monkeypatch.setenv("WANDB_MODE", "offline")
    m = run(make_cfg([*CPPN, "logger=wandb"]))
    assert m["status"] == "ok" and not tried, tried
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))


def online(tmp_path, url, prefix=()):
    env = dict(os.environ, WANDB_BASE_URL=url, WANDB_API_KEY="0" * 40, WANDB_MODE="online", HYDRA_FULL_ERROR="0")
    t = time.monotonic()
    r = subprocess.run([*prefix, sys.executable, "-m", "synthlab", *ARGS, "logger=wandb", "logger.mode=online",
                        f"hydra.run.dir={tmp_path}/run"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    return r, time.monotonic() - t


@pytest.fixture
def silent_server():
    """A loopback server that accepts connections and never answers (a hung W&B server)."""
    import threading

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held, stop = [], threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_online_without_a_server_falls_back_offline_within_30s(tmp_path, kind, request):
    # refused: nothing listens (fails at once); silent: connects, then no answer (the slow case)
    url = "http://127.0.0.1:9" if kind == "refused" else request.getfixturevalue("silent_server")
    r, dt = online(tmp_path, url)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "logging offline instead" in r.stdout + r.stderr
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    run_s = __import__("json").loads((tmp_path / "run" / "metrics.json").read_text())["seconds"]
    assert run_s < 30, run_s  # the fallback costs at most the 5 s reachability check
    print(f"\n{kind}: fell back offline; run {run_s:.1f} s, command {dt:.1f} s")


@pytest.mark.skipif(not can_unshare(), reason="unshare -n is not permitted here")
def test_no_network_at_all(tmp_path):
    env = dict(os.environ, WANDB_MODE="offline", HYDRA_FULL_ERROR="0")
    r = subprocess.run(["unshare", "-n", sys.executable, "-m", "synthlab", *CPPN, f"hydra.run.dir={tmp_path}/off"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert list((tmp_path / "off" / "wandb").glob("offline-run-*"))
    r, dt = online(tmp_path, "https://api.wandb.ai", prefix=["unshare", "-n"])
    assert r.returncode == 0 and "logging offline instead" in r.stdout + r.stderr, r.stderr[-2000:]
