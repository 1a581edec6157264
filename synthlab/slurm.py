"""SLURM pieces that submitit does not provide: job states without accounting, and requeue.

submitit learns its jobs' states from `sacct`. A cluster without accounting (no slurmdbd: many
small clusters, and scripts/slurm-local.sh) answers sacct with an error, and submitit then
never learns that a job was cancelled or killed: the sweep waits forever. `sacct_from_scontrol`
answers submitit's one sacct query (`sacct -o JobID,State,NodeList --parsable2 -j ID ...`)
from `scontrol show job`, which knows every job until MinJobAge after it ended.
synthlab.callbacks.SlurmStates puts it first on PATH for the sweep (launcher=slurm, `sacct`
key). Run as a program: python -m synthlab.slurm sacct ARGS...
"""

import os
import subprocess
import sys
from pathlib import Path

FIELDS = ("JobID", "State", "NodeList")


def parse_scontrol(text: str) -> list[dict]:
    """`scontrol show job -o` lines -> [{JobID, State, NodeList}], array tasks as ARRAY_TASK."""
    rows = []
    for line in text.splitlines():
        kv = dict(p.split("=", 1) for p in line.split() if "=" in p)
        if "JobId" not in kv:
            continue
        task = kv.get("ArrayTaskId")
        if task and task.isdigit():
            jid = f"{kv['ArrayJobId']}_{task}"
        elif task:  # tasks still pending together: "0-3" or "0,2"
            jid = f"{kv['ArrayJobId']}_[{task}]"
        else:
            jid = kv["JobId"]
        rows.append({"JobID": jid, "State": kv.get("JobState", "UNKNOWN"), "NodeList": kv.get("NodeList", "")})
    return rows


def sacct_from_scontrol(argv: list[str]) -> int:
    ids = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-j"]
    print("|".join(FIELDS))
    for jid in ids:
        p = subprocess.run(["scontrol", "show", "job", "-o", jid], capture_output=True, text=True)
        for row in parse_scontrol(p.stdout):  # a purged or unknown id prints nothing, as sacct does
            print("|".join(row[f] for f in FIELDS))
    return 0


def install_sacct(folder: Path) -> Path:
    """A `sacct` program in folder that runs sacct_from_scontrol with this Python."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "sacct"
    exe.write_text(f"#!{sys.executable}\nimport sys\nfrom synthlab.slurm import sacct_from_scontrol\n"
                   "sys.exit(sacct_from_scontrol(sys.argv[1:]))\n")
    exe.chmod(0o755)
    return folder


def accounting_works() -> bool:
    try:
        p = subprocess.run(["sacct", "-n", "-X", "-S", "now"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


# --- inside a job -----------------------------------------------------------------------------
def job_id() -> str | None:
    """This process's SLURM job (an array task's own id), or None outside SLURM."""
    return os.environ.get("SLURM_JOB_ID")


def preempt_signal() -> int:
    """The signal SLURM sends before the time limit (submitit asks for USR2 by default)."""
    import signal

    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2")
    return getattr(signal, "SIG" + name.upper().removeprefix("SIG"), signal.SIGUSR2)


def requeue() -> str:
    """Put this job back in the queue; SLURM restarts it (SLURM_RESTART_COUNT grows), and the
    sweep job continues its own folder from checkpoints/last.ckpt."""
    jid = job_id()
    p = subprocess.run(["scontrol", "requeue", jid], capture_output=True, text=True, timeout=60)
    return f"requeued SLURM job {jid}" if p.returncode == 0 else \
        f"could not requeue SLURM job {jid}: {(p.stderr or p.stdout).strip()}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["sacct"]:
        sys.exit(sacct_from_scontrol(sys.argv[2:]))
    sys.exit("usage: python -m synthlab.slurm sacct ARGS...")
