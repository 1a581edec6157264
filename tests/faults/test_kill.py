"""Fault suite, kills: `kill -9` of GAN training and of a sweep at a random moment, then the same
command again. Nothing half-written may sit under a final name, and the rerun must finish
exactly what was unfinished. The timings are printed (pytest -s shows them)."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import torch
from conftest import cli
from PIL import Image

GAN = ["task=gan", "data.download=false", "data.limit=256", "data.batch_size=32",
       "network.blocks=2", "task.g_steps=2", "task.d_steps=2", "trainer.max_epochs=10", "logger=none",
       "trainer.enable_progress_bar=false"]


def start(args, cwd):
    env = dict(os.environ, WANDB_MODE="offline", HYDRA_FULL_ERROR="0")
    return subprocess.Popen([sys.executable, "-m", "synthlab", *args], cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_when(proc, ready, delay, timeout=240):
    """SIGKILL the whole process group `delay` s after ready() first holds."""
    t0 = time.monotonic()
    while not ready():
        assert proc.poll() is None, "finished before it could be killed"
        assert time.monotonic() - t0 < timeout
        time.sleep(0.05)
    time.sleep(delay)
    assert proc.poll() is None, "finished before it could be killed: make the run longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return time.monotonic() - t0


def test_gan_killed_at_a_random_moment_resumes_from_its_last_complete_checkpoint(tmp_path, mnist):
    run = tmp_path / "outputs" / "gan" / "d" / "first"
    last = run / "checkpoints" / "last.ckpt"
    delay = random.Random(os.getpid()).uniform(0.0, 0.8)
    t = time.monotonic()
    proc = start([*GAN, f"data.root={mnist}", f"hydra.run.dir={run}"], tmp_path)
    killed_at = kill_when(proc, last.exists, delay)
    # everything under a final name is complete: checkpoints load, images decode
    # (a write cut by the kill leaves only a hidden .NAME.*.tmp.ckpt temp file, never a final name)
    final = lambda paths: [p for p in paths if not p.name.startswith(".")]
    for c in final((run / "checkpoints").glob("*.ckpt")):
        assert "state_dict" in torch.load(c, map_location="cpu", weights_only=True)
    for p in final(run.rglob("*.png")):
        Image.open(p).load()
    assert not (run / "metrics.json").exists()
    epoch_before = torch.load(last, map_location="cpu", weights_only=True)["epoch"]
    t_resume = time.monotonic()
    r = cli(*GAN, f"data.root={mnist}", "resume=true", f"hydra.run.dir={tmp_path / 'outputs' / 'gan' / 'd' / 'second'}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs"] == 10 and [e["epoch"] for e in m["per_epoch"]] == list(range(1, 11))
    assert sorted(p.name for p in (run / "checkpoints").glob("epoch*.ckpt")) == [f"epoch{i:03d}.ckpt" for i in range(1, 11)]
    print(f"\nGAN: killed {killed_at:.1f} s after start ({delay:.2f} s after the first checkpoint), "
          f"last.ckpt at epoch {epoch_before}; resume finished in {time.monotonic() - t_resume:.1f} s "
          f"(total {time.monotonic() - t:.1f} s)")


def test_sweep_killed_midway_reruns_only_the_unfinished_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", "task=cppn", "task.size=[384,384]", "network=resnet_cppn", "network.channels=3", "logger=none",
            "seed=0,1,2,3,4,5", f"hydra.sweep.dir={sweep}"]
    done = lambda: len(list(sweep.glob("*/metrics.json"))) >= 2
    proc = start(args, tmp_path)
    killed_at = kill_when(proc, done, random.Random(os.getpid()).uniform(0.0, 0.5))
    before = {m.parent.name: m.read_bytes() for m in sweep.glob("*/metrics.json")}
    assert 2 <= len(before) < 6
    t = time.monotonic()
    r = cli(*args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    after = {m.parent.name: m.read_bytes() for m in sweep.glob("*/metrics.json")}
    assert len(after) == 6
    assert all(after[k] == v for k, v in before.items())  # finished jobs untouched
    skipped = [l for l in r.stderr.splitlines() if "skipping finished job" in l]
    assert len(skipped) == len(before)
    print(f"\nsweep: killed after {killed_at:.1f} s with {len(before)}/6 jobs done; the rerun skipped "
          f"{len(skipped)} and ran {6 - len(before)} in {time.monotonic() - t:.1f} s")


def test_checkpoint_write_killed_midway_keeps_the_previous_file(tmp_path, monkeypatch):
    from synthlab.io import checkpoint_io

    io = checkpoint_io()
    path = tmp_path / "last.ckpt"
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "epoch": 1}, path)

    def dies(obj, f, *a, **k):
        with open(f, "wb") as fh:
            fh.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", dies)
    try:
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}, "epoch": 2}, path)
    except OSError:
        pass
    monkeypatch.undo()
    assert torch.load(path, weights_only=True)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temp file left behind
