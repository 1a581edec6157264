"""Sweeps through a real one-node SLURM cluster (scripts/slurm-local.sh): submission, failures,
cancellation, the time-limit warning's requeue and continuing from the last checkpoint.

Needs Debian's slurmctld, slurmd, slurm-client and munge, and root (the local daemons run as
root); .ci/run installs them, so in CI this runs. Elsewhere it is skipped with the reason."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "slurm-local.sh"
MISSING = [p for p in ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "scontrol") if not shutil.which(p)]
pytestmark = pytest.mark.skipif(
    bool(MISSING) or os.geteuid() != 0,
    reason=f"SLURM test needs root and slurmctld slurmd slurm-client munge (missing: {MISSING or 'root'}); "
           "apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge")

TINY = ["task.size=[40,40]", "task.exemplar_max_side=40", "task.phases=1", "task.iterations=4",
        "task.evals_per_step=2", "trainer.enable_progress_bar=false"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURM_LOCAL_DIR=str(d))
    t = time.monotonic()
    up = subprocess.run([str(SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    print(f"\nslurm-local up in {time.monotonic() - t:.1f} s: {up.stdout.strip()}")
    env["SLURM_CONF"] = str(d / "slurm.conf")
    yield env
    down = subprocess.run([str(SCRIPT), "stop"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stdout + down.stderr


def synthlab(env, args, cwd, timeout=300, **kw):
    return subprocess.run([sys.executable, "-m", "synthlab", *args], env={**env, "WANDB_MODE": "offline"},
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, **kw)


def squeue(env):
    return subprocess.run(["squeue", "-h", "-o", "%i %T"], env=env, capture_output=True, text=True).stdout.split()


def test_a_sweep_runs_as_slurm_jobs_and_one_failure_stays_in_its_folder(cluster, tmp_path):
    from PIL import Image

    sweep = tmp_path / "sweep"
    # a flat exemplar fails only when its job builds the task (a missing file fails before submission)
    Image.new("RGB", (48, 48), (90, 90, 90)).save(tmp_path / "flat.png")
    r = synthlab(cluster, ["-m", *TINY, f"task.exemplar=skimage:grass,{tmp_path / 'flat.png'}", "seed=1,2",
                           "launcher=slurm_local", 'hydra.launcher.setup=["export CUDA_VISIBLE_DEVICES=3"]',
                           f"hydra.sweep.dir={sweep}"], tmp_path)
    jobs = sorted(p.parent for p in sweep.glob("*/synthlab.log"))
    assert len(jobs) == 4
    done = [json.loads((j / "metrics.json").read_text()) for j in jobs if (j / "metrics.json").exists()]
    failed = [j for j in jobs if (j / "error.txt").exists()]
    assert len(done) == 2 and len(failed) == 2, r.stderr[-3000:]
    assert all("one flat colour" in (j / "error.txt").read_text() for j in failed)
    # the sweep tells the truth: exit 1 and one line naming the failed jobs
    assert r.returncode == 1, r.stderr[-3000:]
    assert r.stderr.strip().splitlines()[-1].startswith("synthlab: 2 of 4 jobs failed (see "), r.stderr[-3000:]
    for m in done:  # each ran as its own SLURM job, with the GPU SLURM gave it left as it was
        assert m["slurm_job_id"] and m["cuda_visible_devices"] == "3" and m["status"] == "ok"
    assert len({m["slurm_job_id"] for m in done}) == 2
    for j in jobs:
        if (j / "metrics.json").exists():
            assert (j / "texture.png").is_file() and list((j / "wandb").glob("offline-run-*/run-*.wandb"))
    rep = subprocess.run([sys.executable, "-m", "synthlab", "report", str(sweep)], capture_output=True, text=True)
    assert rep.returncode == 0 and "| 2 |" in rep.stdout and rep.stdout.count("| failed |") == 2, rep.stdout
    print("\n" + rep.stdout)


GAN = ["task=gan", "data.download=false", "data.limit=256", "data.batch_size=32", "network.blocks=2",
       "task.g_steps=2", "task.d_steps=2", "logger=none", "trainer.enable_progress_bar=false", "launcher=slurm_local"]


def wait(cond, timeout=240, what=""):
    t = time.monotonic()
    while not cond():
        assert time.monotonic() - t < timeout, f"timed out waiting for {what}"
        time.sleep(0.5)


def epochs(folder):
    return [json.loads(l)["epoch"] for l in (folder / "epochs.jsonl").read_text().splitlines() if l.strip()]


def test_cancel_then_resubmit_continues_and_the_warning_requeues(cluster, tmp_path, mnist):
    """scancel (SIGTERM) stops a GAN job at once and the sweep fails instead of hanging (no
    accounting: the sacct stand-in reports CANCELLED); the same sweep again continues the job
    from last.ckpt. The time-limit warning (USR2) stops it and requeues it in SLURM."""
    sweep = tmp_path / "gan"
    args = ["-m", *GAN, f"data.root={mnist}", "trainer.max_epochs=40", "seed=0", f"hydra.sweep.dir={sweep}"]
    proc = subprocess.Popen([sys.executable, "-m", "synthlab", *args], env=cluster, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait(lambda: len(list(sweep.glob("*/checkpoints/epoch*.ckpt"))) >= 2, what="two GAN epochs")
    run = next(sweep.glob("*/checkpoints")).parent
    jid = squeue(cluster)[0]
    t = time.monotonic()
    subprocess.run(["scancel", jid], env=cluster, check=True)
    err = proc.communicate(timeout=120)[1]
    print(f"\nscancel -> sweep command exited {proc.returncode} after {time.monotonic() - t:.1f} s")
    assert proc.returncode != 0 and "CANCELLED" in err, err[-3000:]
    assert (run / "error.txt").read_text().startswith("stopped by SIGTERM") and not (run / "metrics.json").exists()
    first = epochs(run)
    assert first == list(range(1, len(first) + 1))

    # re-submitted: continues from last.ckpt, then the time-limit warning requeues it
    proc = subprocess.Popen([sys.executable, "-m", "synthlab", *args], env=cluster, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait(lambda: (run / "resumed.txt").exists() and len(epochs(run)) >= len(first) + 2, what="resumed epochs")
    jid = squeue(cluster)[0]
    subprocess.run(["scancel", "--signal=USR2", jid], env=cluster, check=True)
    wait(lambda: "requeued" in (run / "error.txt").read_text() if (run / "error.txt").exists() else False,
         what="the requeue note")
    info = subprocess.run(["scontrol", "show", "job", "-o", jid], env=cluster, capture_output=True, text=True).stdout
    assert "Restarts=1" in info, info
    subprocess.run(["scancel", jid], env=cluster, check=True)  # SLURM holds a requeued job ~2 min: stop here
    proc.communicate(timeout=120)
    got = epochs(run)
    assert got == list(range(1, len(got) + 1)) and len(got) > len(first)  # no gap, no duplicate
    print(f"epochs before scancel {first}, after resubmit {got}")
