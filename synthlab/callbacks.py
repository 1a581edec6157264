"""Where each job runs: the one place for thread and GPU policy (a Hydra callback, configured
under hydra.callbacks in conf/config.yaml; launcher files set how many jobs run at once)."""

import os

from hydra.experimental.callback import Callback


class Placement(Callback):
    """Before each job, in the job's own process: with several GPUs visible, a sweep job gets
    its own (round robin by job number: Hydra's launchers do not place GPUs, hydra#1331); when
    `parallel_jobs` run at once on this machine, each gets its share of the cores instead of
    all of them (oversubscribed threads collapse small-op workloads)."""

    def __init__(self, *, parallel_jobs: int):
        self.parallel_jobs = int(parallel_jobs)

    def on_job_start(self, config, **kwargs) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        if hc.mode != RunMode.MULTIRUN:
            return
        own_gpu(int(hc.job.num))
        if self.parallel_jobs > 1:
            import torch

            torch.set_num_threads(max(1, (os.cpu_count() or 1) // self.parallel_jobs))


def own_gpu(job_num: int) -> None:
    """One visible GPU per job, picked from those visible (set before CUDA starts here)."""
    if "CUDA_VISIBLE_DEVICES" in os.environ and "," not in os.environ["CUDA_VISIBLE_DEVICES"]:
        return
    import torch

    n = torch.cuda.device_count()
    if n > 1:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(n)))).split(",")
        os.environ["CUDA_VISIBLE_DEVICES"] = visible[job_num % n]


class SlurmStates(Callback):
    """Launcher side of launcher=slurm: submitit polls `sacct`, which clusters without
    accounting do not answer (then a cancelled job leaves the sweep waiting forever). sacct:
    `auto` uses synthlab's stand-in (synthlab.slurm, from scontrol) only where sacct fails,
    `scontrol` always, `sacct` never."""

    def __init__(self, *, sacct: str):
        if sacct not in ("auto", "scontrol", "sacct"):
            from synthlab.errors import SynthlabError

            raise SynthlabError("hydra.callbacks.slurm_states.sacct must be one of ['auto', 'scontrol', 'sacct'], "
                                f"got {sacct!r}")
        self.sacct = sacct

    def on_multirun_start(self, config, **kwargs) -> None:
        from pathlib import Path

        from synthlab import slurm

        if self.sacct == "scontrol" or (self.sacct == "auto" and not slurm.accounting_works()):
            bin_dir = slurm.install_sacct(Path(config.hydra.sweep.dir) / ".slurm-bin")
            os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
