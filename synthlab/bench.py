"""`synthlab bench`: timings printed as a table with the machine, and saved as JSON.

    synthlab bench texture [--sizes 128 256 512] [--evals 5] [--device cpu|cuda] [--json PATH]

texture: seconds per function evaluation (features, patch matching, loss and gradient) of the
default network and critic at each output size, with the exemplar at the same size; the
share of that spent in patch matching; and a phase of `--iterations` evaluations projected
from the measured rate (a 512 px phase of 100 evaluations is minutes on a 2-core CPU).
"""

import argparse
import json
import os
import platform
import time

import torch


def machine(device: str) -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "device": device}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def bench_texture(sizes, evals, iterations, device, overrides=()):
    from hydra import compose, initialize_config_dir

    from synthlab.cli import CONF
    from synthlab.losses import patches as P
    from synthlab.run import instantiate

    rows = []
    for size in sizes:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose("config", overrides=[f"task.size=[{size},{size}]", f"task.exemplar_size={size}",
                                               "task.phases=1", "seed=0", *overrides])
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
        task = instantiate(cfg.task, net=instantiate(cfg.network), optim=instantiate(cfg.optim)).to(device)
        task.manual_backward = lambda loss: loss.backward()  # outside a Trainer
        task.start_phase(0)
        spent = [0.0]
        real_match = P.match

        def timed_match(*a, **k):
            _sync(device)
            t = time.perf_counter()
            r = real_match(*a, **k)
            _sync(device)
            spent[0] += time.perf_counter() - t
            return r

        P.match = timed_match
        try:
            task.run_evals(1)  # warm-up: allocator, kernels
            spent[0], n0 = 0.0, task.evals
            _sync(device)
            t = time.perf_counter()
            task.run_evals(evals)
            _sync(device)
            dt = time.perf_counter() - t
        finally:
            P.match = real_match
        n = task.evals - n0
        rows.append({"size": size, "evals": n, "s_per_eval": dt / n, "match_share": spent[0] / dt,
                     "s_per_phase": dt / n * iterations, "phase_evals": iterations})
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="synthlab bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["texture"])
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--evals", type=int, default=5, help="evaluations timed per size")
    p.add_argument("--iterations", type=int, default=100, help="evaluations in one phase")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--json", default="outputs/bench/texture.json")
    p.add_argument("overrides", nargs="*", help="config overrides, e.g. network/activation=relu")
    a = p.parse_args(argv)
    info = machine(a.device)
    rows = bench_texture(a.sizes, a.evals, a.iterations, a.device, a.overrides)
    print(f"machine: {info['cpu']} | {info['cores']} cores, torch {info['torch']} "
          f"({info['torch_threads']} threads) | device {info.get('gpu', a.device)}")
    print(f"{'size':>6} {'evals':>6} {'s/eval':>9} {'match %':>8} {'s/phase':>9}  (phase = {a.iterations} evals, projected)")
    for r in rows:
        print(f"{r['size']:>6} {r['evals']:>6} {r['s_per_eval']:>9.3f} {100 * r['match_share']:>7.1f}% {r['s_per_phase']:>9.1f}")
    from synthlab.io import write_json

    write_json(a.json, {"machine": info, "texture": rows, "overrides": a.overrides})
    print(f"wrote {a.json}")
    return 0
