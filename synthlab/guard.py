"""guard(): run(cfg) with every way a job can end turned into its one line and its files.

A SynthlabError is one line (and error.txt); a full disk or an unwritable folder is one line
naming the file; a signal stops the run (exit 128+N, and a SLURM time-limit warning requeues
it); anything else is one line plus the traceback in error.log. In a sweep a failing job is
recorded and the others go on (the sweep's summary counts it).
"""

import errno
import os
import sys
import traceback

from synthlab.errors import Stopped, SynthlabError, fail, ignore_signals, received
from synthlab.runfolder import RunFolder

DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def guard(cfg, folder: RunFolder, multirun: bool):
    folder.clear_outcome()

    def failed(line: str, log: str | None = None, hint: str = ""):
        folder.write_error(line, log)
        if multirun:  # one failing job must not take the sweep down
            print(f"synthlab: job {folder} failed: {line[:300]}{hint}", file=sys.stderr)
            return None
        fail(line + hint)

    try:
        try:
            from synthlab.run import run  # torch and Lightning load here: a signal meanwhile stops the run too

            return run(cfg)
        except Exception:
            if received:  # a library cut off by the signal failed on its way out: it is the stop
                raise Stopped(received[0]) from None
            raise
    except Stopped as e:  # a stopped sweep stops: the remaining jobs do not start
        from synthlab import slurm

        ignore_signals((e.signum,))
        msg = str(e)
        if slurm.job_id() and e.signum == slurm.preempt_signal():  # the time limit is near
            msg += "; " + slurm.requeue()
        folder.write_error(msg)
        print(f"synthlab: {msg}: {folder} is unfinished (no metrics.json)", file=sys.stderr)
        sys.exit(128 + e.signum)
    except SynthlabError as e:
        return failed(str(e))
    except OSError as e:
        if e.errno not in DISK_ERRORS:
            raise
        return failed(f"{e.strerror} while writing {e.filename or folder}")  # full, read-only or not ours
    except Exception as e:  # a bug or a crash: one line here, the traceback in error.log
        if os.environ.get("SYNTHLAB_TRACEBACK"):
            raise
        first = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        return failed(f"{type(e).__name__}: {first}", traceback.format_exc(),
                      f" (traceback in {folder.path / 'error.log'}; SYNTHLAB_TRACEBACK=1 raises it)")
