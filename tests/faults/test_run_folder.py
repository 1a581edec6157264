"""Fault suite, run folders and disks: a run folder belongs to one run (a finished one is kept
unless force=true; a live one is locked), a rerun never leaves an old result beside a new
failure, and a full disk or a folder that cannot be written is one line naming it."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import TINY, fcli


def test_a_finished_folder_is_kept_unless_forced(tmp_path):
    run = tmp_path / "run"
    assert fcli(*TINY, f"hydra.run.dir={run}", cwd=tmp_path).returncode == 0
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".synthlab.lock"}
    r = fcli(*TINY, "seed=7", f"hydra.run.dir={run}", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"synthlab: error: run folder {run} already holds a finished run (metrics.json): give another "
        "hydra.run.dir, or add force=true to replace it"]
    assert {p: p.read_bytes() for p in before} == before  # nothing touched, .hydra included
    # a bad value fails before the run starts (synthlab/checks.py): the folder is not touched
    r = fcli(*TINY, "task.exemplar=/no/such.png", "force=true", f"hydra.run.dir={run}", cwd=tmp_path)
    assert r.returncode == 2 and {p: p.read_bytes() for p in before} == before
    # forced, and failing once running: the old result must not stay beside the new error
    from PIL import Image

    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "flat.png")
    r = fcli(*TINY, f"task.exemplar={tmp_path / 'flat.png'}", "force=true", f"hydra.run.dir={run}", cwd=tmp_path)
    assert r.returncode == 1 and not (run / "metrics.json").exists() and (run / "error.txt").exists()
    rep = fcli("report", str(tmp_path))
    assert "| failed | run |" in rep.stdout and "| 1 |" not in rep.stdout


def test_a_live_run_folder_is_locked(tmp_path):
    run = tmp_path / "run"
    args = [a for a in TINY if not a.startswith(("task.iterations", "task.phases"))]
    env = dict(os.environ, WANDB_MODE="offline")
    first = subprocess.Popen([sys.executable, "-m", "synthlab", *args, "task.phases=1", "task.iterations=100000",
                              f"hydra.run.dir={run}"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while not (run / ".synthlab.lock").exists() or (run / ".synthlab.lock").read_text() == "":
            assert time.monotonic() - t0 < 60 and first.poll() is None
            time.sleep(0.1)
        for extra in ([], ["force=true"]):
            r = fcli(*TINY, *extra, f"hydra.run.dir={run}", cwd=tmp_path)
            assert r.returncode == 2, r.stderr[-1000:]
            assert r.stderr.strip().splitlines() == [
                f"synthlab: error: run folder {run} is in use by another synthlab run (pid {first.pid})"]
        assert first.poll() is None  # the first run goes on
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(30)
    assert first.returncode == 143


def test_a_folder_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "afile").write_text("x")
    r = fcli(*TINY, f"hydra.run.dir={tmp_path / 'afile' / 'run'}", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"synthlab: error: cannot write into the run folder {tmp_path / 'afile' / 'run'}: Not a directory"]


def _tmpfs_works(d):
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    return subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {d}"],
                          capture_output=True).returncode == 0


@pytest.mark.parametrize("size, words, code", [
    ("16k", "no space left for the run folder {run}: 16 KiB free on its disk", 2),
    ("1200k", "No space left on device while writing {run}/", 1)])
def test_a_full_disk_is_one_line(tmp_path, size, words, code):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _tmpfs_works(disk):
        pytest.skip("needs unshare -m and mount (root) to make a small disk")
    run = disk / "run"
    big = ["task.size=[512,512]", "task.exemplar_max_side=512", "task.iterations=2", "task.evals_per_step=2",
           "task.phases=2", "logger=none", "trainer.enable_progress_bar=false"]
    cmd = " ".join([f"mount -t tmpfs -o size={size} tmpfs {disk} &&", sys.executable, "-m", "synthlab",
                    *[f"'{a}'" for a in big], f"hydra.run.dir={run}"])
    r = subprocess.run(["unshare", "-m", "sh", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, WANDB_MODE="offline"))
    err = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == code and len(err) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert err[0].startswith("synthlab: error: " + words.format(run=run)), err[0]


def test_a_disk_that_fills_while_a_checkpoint_is_written_is_one_line_and_error_txt(tmp_path, mnist):
    """torch.save reports a full disk as 'RuntimeError: unexpected pos': the user reads which
    file could not be written instead, and error.txt says the same."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _tmpfs_works(disk):
        pytest.skip("needs unshare -m and mount (root) to make a small disk")
    run = disk / "run"
    gan = ["task=gan", f"data.root={mnist}", "data.download=false", "data.limit=64", "data.batch_size=32",
           "network.blocks=2", "task.g_steps=1", "task.d_steps=1", "trainer.max_epochs=2", "logger=none",
           "trainer.enable_progress_bar=false", f"hydra.run.dir={run}"]
    cmd = " ".join([f"mount -t tmpfs -o size=3m tmpfs {disk} &&", sys.executable, "-m", "synthlab",
                    *gan, f"&& exit 0; echo rc=$? && cat {run}/error.txt"])
    r = subprocess.run(["unshare", "-m", "sh", "-c", cmd], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, WANDB_MODE="offline"))
    line = f"No space left on device while writing {run}/checkpoints/epoch001.ckpt"
    err = [l for l in r.stderr.splitlines() if l.strip() and "Warning" not in l and "warn" not in l]
    assert err == [f"synthlab: error: {line}"], r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-2:] == ["rc=1", line], r.stdout[-2000:]


def test_the_lock_file_lives_only_while_its_run_does(tmp_path):
    """Finished or failed, a run leaves no .synthlab.lock; one left by a killed run (its pid
    dead, so its flock is free) is recognised as stale and replaced."""
    from PIL import Image

    ok, bad, stale = tmp_path / "ok", tmp_path / "bad", tmp_path / "stale"
    assert fcli(*TINY, f"hydra.run.dir={ok}", cwd=tmp_path).returncode == 0
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "flat.png")
    assert fcli(*TINY, f"task.exemplar={tmp_path / 'flat.png'}", f"hydra.run.dir={bad}", cwd=tmp_path).returncode == 1
    stale.mkdir()
    (stale / ".synthlab.lock").write_text("999999")  # what a SIGKILLed run leaves
    r = fcli(*TINY, f"hydra.run.dir={stale}", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    for d in (ok, bad, stale):
        assert not (d / ".synthlab.lock").exists(), d
    assert (ok / "metrics.json").exists() and (bad / "error.txt").exists() and (stale / "metrics.json").exists()
