"""One exception type for mistakes the user can fix: the CLI prints it as a single line."""


class SynthlabError(Exception):
    """A bad config value, file or size. The message names what is wrong and how to fix it."""


def fail(msg: str, code: int = 1):
    """The one way synthlab ends a command on a mistake: one line on stderr, a non-zero exit."""
    import sys

    print(f"synthlab: error: {msg}", file=sys.stderr)
    sys.exit(code)


class Stopped(BaseException):
    """SIGTERM or SIGINT arrived: the run stops where it is, writes no result that looks
    finished, and the command exits 128 + the signal number. A BaseException, so that no
    `except Exception` on the way (loggers, fallbacks) can swallow it."""

    def __init__(self, signum: int):
        import signal

        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


received: list = []  # the signals that arrived, in order


def stop_on_signals(extra=()) -> None:
    """SIGTERM (SLURM, docker stop, timeout, CI) and SIGINT raise Stopped at once. Lightning
    keeps this handler beside its own during fit/predict (it composes existing handlers), so
    the run stops mid-step instead of finishing the step and exiting 0. The signal is also
    recorded: a library interrupted mid-import may fail later with another error, which is
    then still reported as the stop it is (see cli.job). `extra`: more signals that stop the
    run the same way (a SLURM job's time-limit warning, see synthlab.slurm)."""
    import signal

    def stop(signum, frame):
        received.append(signum)
        raise Stopped(signum)

    for s in (signal.SIGTERM, signal.SIGINT, *extra):
        signal.signal(s, stop)


def ignore_signals(extra=()) -> None:
    """Once stopping: a second signal (SLURM follows its warning with SIGTERM; a user presses
    Ctrl-C twice) must not cut the error file or the requeue short. SIGKILL still ends it."""
    import signal

    for s in (signal.SIGTERM, signal.SIGINT, *extra):
        signal.signal(s, signal.SIG_IGN)
