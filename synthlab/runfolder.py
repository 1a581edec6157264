"""A run's folder, and every rule about it: who holds it (the lock), whether it finished
(metrics.json, written last), how it failed (error.txt, error.log), where it can resume
(checkpoints/last.ckpt). The CLI, the sweep, run() and the report all ask this one object.
"""

import json
import os
import shutil
import tempfile
from pathlib import Path

from synthlab.errors import SynthlabError
from synthlab.io import write_json, write_text

MIN_FREE = 1 << 20  # bytes: the config, the log and at least a small image
LOCK = ".synthlab.lock"


class RunFolder:
    def __init__(self, path):
        self.path = Path(path)
        self.metrics_file, self.error_file = self.path / "metrics.json", self.path / "error.txt"
        self.checkpoint = self.path / "checkpoints" / "last.ckpt"
        self._lock_fd = None

    def __str__(self):
        return str(self.path)

    # --- the lock: a folder belongs to one live run --------------------------------------
    def holder(self) -> str | None:
        """The pid of the live run that holds the folder, or None. A lock file whose flock is
        free was left by a run that was killed (the kernel drops a dead process's flock):
        it does not count, and the next run replaces it."""
        import fcntl

        lock = self.path / LOCK
        if not lock.is_file():
            return None
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        except BlockingIOError:
            return os.read(fd, 32).decode(errors="replace").strip() or "?"
        finally:
            os.close(fd)

    def in_use(self) -> str:
        return f"run folder {self.path} is in use by another synthlab run (pid {self.holder()})"

    def acquire(self) -> bool:
        """Take the folder for this process; False when a live run holds it."""
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        return True

    def release(self) -> None:
        """Remove the lock file while still holding its flock (no other run can have taken
        it in between), then let go."""
        if self._lock_fd is not None:
            (self.path / LOCK).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- outcome --------------------------------------------------------------------------
    def metrics(self) -> dict | None:
        """metrics.json as a dict, or None when there is none or it cannot be read."""
        try:
            m = json.loads(self.metrics_file.read_text())
        except (OSError, ValueError):
            return None
        return m if isinstance(m, dict) else None

    def finished(self, overrides: list | None = None) -> bool:
        """metrics.json says the run finished (with exactly these overrides, when given)."""
        m = self.metrics()
        return bool(m) and m.get("status") == "ok" and (overrides is None or m.get("overrides") == overrides)

    def clear_outcome(self) -> None:
        """This run's outcome, not a previous one's: the old result files go before it starts."""
        for name in ("metrics.json", "error.txt", "error.log"):
            (self.path / name).unlink(missing_ok=True)

    def write_error(self, line: str, log: str | None = None) -> bool:
        """error.txt (and error.log). Never raises: on a full disk or a read-only folder it
        returns False, and the caller's one line is all that is said."""
        try:
            write_text(self.error_file, line + "\n")
            if log is not None:
                write_text(self.path / "error.log", log)
            return True
        except OSError:
            return False

    def write_metrics(self, metrics: dict) -> None:
        write_json(self.metrics_file, metrics)  # last: its presence means the run finished

    def epochs(self) -> list:
        """epochs.jsonl, one row per epoch: a line cut by a kill is skipped, and an epoch run
        again after a resume keeps its latest row."""
        rows, path = {}, self.path / "epochs.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            try:
                row = json.loads(line)
                rows[row["epoch"]] = row
            except (ValueError, KeyError, TypeError):
                continue
        return [rows[k] for k in sorted(rows)]

    def write_epoch(self, row: dict) -> None:
        """This epoch's row, replacing any later ones (a resume re-runs them); the whole file
        is rewritten atomically, so a kill never leaves half a line."""
        rows = [r for r in self.epochs() if r["epoch"] < row["epoch"]] + [row]
        write_text(self.path / "epochs.jsonl", "".join(json.dumps(r) + "\n" for r in rows))

    # --- resume ---------------------------------------------------------------------------
    def resumable(self) -> bool:
        """Stopped before it finished, with a checkpoint to continue from."""
        return self.checkpoint.is_file() and not self.metrics_file.exists()

    def check_writable(self) -> None:
        """A real write (permission bits say nothing to root) and some space left: Hydra writes
        the config there first, and fails with a traceback."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryFile(dir=self.path).close()
            free = shutil.disk_usage(self.path).free
        except OSError as e:
            raise SynthlabError(f"cannot write into the run folder {self.path}: {e.strerror or e}") from None
        if free < MIN_FREE:
            raise SynthlabError(f"no space left for the run folder {self.path}: {free // 1024} KiB free on its disk")

    def check_free_for(self, force: bool) -> None:
        """A folder named on the command line: not while a live run writes it, and not over a
        finished run unless forced."""
        if self.holder():
            raise SynthlabError(self.in_use())
        if self.metrics_file.exists() and not force:
            raise SynthlabError(f"run folder {self.path} already holds a finished run (metrics.json): give another "
                                "hydra.run.dir, or add force=true to replace it")


def newest_resumable(task_root: Path, besides: Path, task: str) -> "RunFolder":
    """resume=true: the newest unfinished run of this task (task_root/<date>/<time>) with a
    checkpoint, other than `besides` (the new run's own folder)."""
    runs = [RunFolder(c.parents[1]) for c in task_root.glob("*/*/checkpoints/last.ckpt")
            if c.parents[1] != besides]
    runs = [r for r in runs if r.resumable()]
    if not runs:
        raise SynthlabError(f"resume=true: no unfinished {task} run with checkpoints/last.ckpt under {task_root}")
    return max(runs, key=lambda r: r.checkpoint.stat().st_mtime)


def runs_under(root: Path) -> list["RunFolder"]:
    """Every run folder below root that has an outcome (finished or failed), sorted."""
    found = {p.parent for p in root.rglob("metrics.json")} | {p.parent for p in root.rglob("error.txt")}
    return [RunFolder(d) for d in sorted(found)]


def rank() -> int:
    """This process's rank in a distributed run (0 when alone): the variables Lightning sets for
    the processes it launches, or SLURM for each task. Only rank 0 owns and writes the folder."""
    for key in ("RANK", "LOCAL_RANK", "SLURM_PROCID"):
        value = os.environ.get(key, "")
        if value.isdigit():
            return int(value)
    return 0
