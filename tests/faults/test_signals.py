"""Fault suite, signals: SIGTERM (SLURM, docker stop, timeout) and SIGINT stop a run within
seconds with exit code 128 + signal, leave no result that looks finished, and keep the
checkpoints intact, whenever they arrive: while starting up, mid-step, mid-training."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import TINY


def start(args, cwd):
    env = dict(os.environ, WANDB_MODE="offline", HYDRA_FULL_ERROR="0")
    return subprocess.Popen([sys.executable, "-m", "synthlab", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def stop(proc, sig, when, timeout=120):
    """Send `sig` once when() holds; returns (seconds from the signal to exit, stderr)."""
    t0 = time.monotonic()
    while not when():
        assert proc.poll() is None, proc.stderr.read()[-2000:]
        assert time.monotonic() - t0 < timeout
        time.sleep(0.05)
    t = time.monotonic()
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    return time.monotonic() - t, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_texture_run_stops_mid_synthesis(tmp_path, sig):
    run = tmp_path / "run"
    args = [a for a in TINY if not a.startswith(("task.iterations", "task.phases"))]
    proc = start([*args, "task.phases=1", "task.iterations=100000", f"hydra.run.dir={run}"], tmp_path)
    began = time.monotonic()
    dt, err = stop(proc, sig, lambda: (run / ".hydra").is_dir() and time.monotonic() - began > 6)
    assert proc.returncode == 128 + sig, err[-2000:]
    assert dt < 5, dt
    assert err.strip().splitlines()[-1] == f"synthlab: stopped by {sig.name}: {run} is unfinished (no metrics.json)"
    assert "Traceback" not in err
    assert not (run / "metrics.json").exists() and not (run / "texture.png").exists()
    assert (run / "error.txt").read_text().strip() == f"stopped by {sig.name}"
    print(f"\ntexture: {sig.name} -> exit {proc.returncode} in {dt:.2f} s")


def test_a_signal_while_starting_up_stops_the_command(tmp_path):
    proc = start([*TINY, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    time.sleep(1.0)  # importing torch, Hydra composing
    dt, err = stop(proc, signal.SIGTERM, lambda: True)
    assert proc.returncode == 143 and dt < 5, err[-2000:]
    assert err.strip().splitlines()[-1].startswith("synthlab: stopped by SIGTERM") and "Traceback" not in err


def test_a_gan_run_stops_with_its_checkpoints_intact_and_resumes(tmp_path, mnist):
    gan = ["task=gan", f"data.root={mnist}", "data.download=false", "data.limit=256", "data.batch_size=32",
           "network.blocks=2", "task.g_steps=2", "task.d_steps=2", "trainer.max_epochs=30", "logger=none",
           "trainer.enable_progress_bar=false"]
    run = tmp_path / "outputs" / "gan" / "d" / "first"
    proc = start([*gan, f"hydra.run.dir={run}"], tmp_path)
    last = run / "checkpoints" / "last.ckpt"
    dt, err = stop(proc, signal.SIGTERM, last.exists)
    assert proc.returncode == 143 and dt < 5, err[-2000:]
    assert not (run / "metrics.json").exists()
    for ckpt in (run / "checkpoints").glob("*.ckpt"):  # every checkpoint under a final name loads
        assert "state_dict" in torch.load(ckpt, map_location="cpu", weights_only=True)
    done = torch.load(last, map_location="cpu", weights_only=True)["epoch"] + 1
    print(f"\ngan: SIGTERM -> exit 143 in {dt:.2f} s, last.ckpt after epoch {done}")
    r = subprocess.run([sys.executable, "-m", "synthlab", *gan, "trainer.max_epochs=" + str(done + 1), "resume=true",
                        f"hydra.run.dir={tmp_path / 'outputs' / 'gan' / 'd' / 'second'}"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (run / "metrics.json").exists()
