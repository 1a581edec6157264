"""The real `synthlab` command, each call a process forked from one that imported it once.

A fresh interpreter spends ~8 s importing torch, Lightning, Hydra and W&B before `synthlab`
reads its first argument: the ~90 bad-input cases spent most of their time there, a third of
the suite. This parent imports them once and runs nothing (no torch op, so no thread pool to
break across fork); each call forks a child that is the command as `python -m synthlab` runs
it: its own process, arguments, working folder, signal handlers, logging, stdout and stderr
files and exit code (exit handlers run, as at a normal exit). What a fresh interpreter adds
(import errors, environment read at import) the tests that use conftest.cli still cover.
Not for sweeps with launcher=joblib: loky's workers hang when started from a forked child
(measured: a two-job joblib sweep ran into its 300 s timeout), so those tests use cli.

Run by ForkedCli below; one request per line on stdin, one answer per line on stdout (JSON).
"""

import json
import os
import subprocess
import sys
import time

ENV = {"WANDB_MODE": "offline", "HYDRA_FULL_ERROR": "0", "OMP_WAIT_POLICY": "PASSIVE"}


def child(req):
    """In the forked process: become `python -m synthlab ARGS` in cwd; never returns."""
    import atexit
    import runpy
    import traceback

    os.chdir(req["cwd"])
    for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                           (2, req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
        f = os.open(path, mode, 0o644)
        os.dup2(f, fd)
        os.close(f)
    sys.argv, sys.path[0] = ["synthlab", *req["args"]], req["cwd"]  # as `python -m` sets them
    code = 0
    try:
        runpy.run_module("synthlab", run_name="__main__", alter_sys=True)
    except SystemExit as e:  # what the interpreter does with sys.exit(x)
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    for s in (sys.stdout, sys.stderr):
        s.flush()
    os._exit(code)


def serve():
    import synthlab.cli  # noqa: F401  the imports a run makes, once
    import synthlab.run  # noqa: F401
    import synthlab.sweep  # noqa: F401

    for line in sys.stdin:
        req = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            child(req)
        deadline, status = time.monotonic() + req["timeout"], None
        while status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(st)
            elif time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                status = "timeout"
            else:
                time.sleep(0.02)
        print(json.dumps({"rc": status}), flush=True)


class ForkedCli:
    """cli(*args, cwd=..., timeout=...) -> subprocess.CompletedProcess, like conftest.cli."""

    def __init__(self, tmp):
        self.tmp, self.n = tmp, 0
        self.proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=dict(os.environ, **ENV), text=True)

    def __call__(self, *args, cwd=None, timeout=300):
        self.n += 1
        out, err = self.tmp / f"{self.n}.out", self.tmp / f"{self.n}.err"
        req = {"args": [str(a) for a in args], "cwd": str(cwd or os.getcwd()), "stdout": str(out),
               "stderr": str(err), "timeout": timeout}
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        rc = json.loads(self.proc.stdout.readline())["rc"]
        if rc == "timeout":
            raise subprocess.TimeoutExpired(["synthlab", *req["args"]], timeout)
        return subprocess.CompletedProcess(["synthlab", *req["args"]], rc, out.read_text(), err.read_text())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


if __name__ == "__main__":
    serve()
