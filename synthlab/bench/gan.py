"""synthlab bench gan: MNIST CPPN-GAN training speed.

Times one generator(+encoder) step: the paths of torch's ops as they were (the whole batch
through G with one autograd graph, the reference; G in chunks of k images), then the default:
the fused CPU kernel (synthlab.nets.fused) with one graph and a channels-last discriminator;
all give the same gradients. Then one discriminator step. --threads repeats the table at each
thread count; --concurrent N also runs N copies of the default step in N processes at once
(two training jobs sharing the cores) and reports each one's speed against its solo speed.
An epoch of the accuracy-gated schedule costs at most ceil(N / batch) x (16 generator + 8
discriminator steps); --fit-batches also runs real Trainer batches from the freshly
initialised model and projects the epoch from them.
"""

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from synthlab.bench import common_args, finish, machine, sync, table
from synthlab.errors import SynthlabError


def plain_g_update(task, opt, x, y):
    """The reference's generator step: one graph through G for the whole batch."""
    from synthlab.nets.encoder import Encoder
    from synthlab.tasks.gan import kl_loss

    mean, logvar = task.E(x)
    fake = task.generate(Encoder.sample(mean, logvar))
    loss = F.cross_entropy(task.D(fake), y) + task.kl_weight * kl_loss(mean, logvar, task.crop ** 2)
    opt.zero_grad()
    loss.backward()
    params = list(task.E.parameters()) + list(task.G.parameters())
    torch.nn.utils.clip_grad_norm_(params, task.clip)
    opt.step()


def timed(fn, reps, device):
    fn()  # warm-up
    sync(device)
    t = time.perf_counter()
    for _ in range(reps):
        fn()
    sync(device)
    return (time.perf_counter() - t) / reps


def steps(task, x, y, a) -> list[dict]:
    """The generator-step rows at the current thread count, then the discriminator step."""
    backward = torch.Tensor.backward  # outside a Trainer: plain autograd
    g_opt, d_opt, _ = task.configure_optimizers()
    task.D.requires_grad_(False)
    rows = []
    if not a.only_default:
        task.G.kernel, task.chunk = "torch", 0
        task.D.layout(torch.contiguous_format)  # as it was: the reference's own layout
        rows.append({"step": "generator, one graph, torch ops (reference)",
                     "seconds": timed(lambda: plain_g_update(task, g_opt, x, y), a.reps, a.device)})
        for c in a.chunks:
            task.chunk = c
            rows.append({"step": f"generator, chunks of {c}, torch ops",
                         "seconds": timed(lambda: task.g_update(g_opt, x, y, backward), a.reps, a.device)})
    task.G.kernel, task.chunk = "auto", 0
    task.D.layout(torch.channels_last)
    fused_here = task.G.fused_on(task.pts)
    kernel = "fused kernel" if fused_here else "torch ops (no fused kernel here)"
    rows.append({"step": "generator, one graph, " + kernel
                 + ", channels-last D (default)",
                 "seconds": timed(lambda: task.g_update(g_opt, x, y, backward), a.reps, a.device)})
    task.D.requires_grad_(True)
    fake = task.generate(torch.randn(len(x), task.G.z_dim, device=a.device)).detach()

    def d_step():
        task.step(d_opt, task.d_loss(task.D(x), y, task.D(fake)), list(task.D.parameters()), backward)
    rows.append({"step": "discriminator", "seconds": timed(d_step, a.reps, a.device)})
    ref = rows[0]["seconds"]
    best_old = min((r["seconds"] for r in rows if "torch ops" in r["step"] and "default" not in r["step"]),
                   default=None)
    batches = math.ceil(a.images / a.batch)
    d = rows[-1]["seconds"]
    for r in rows:
        r["threads"] = torch.get_num_threads()
        r["images_per_s"] = a.batch / r["seconds"]
        if r["step"] != "discriminator":
            r["speedup"] = ref / r["seconds"]
            if best_old:
                r["x_best_old"] = best_old / r["seconds"]
            r["epoch_worst_s"] = batches * (16 * r["seconds"] + 8 * d)
    return rows


def concurrent(a, n: int) -> list[dict]:
    """n processes timing the default step at once, each with the threads this one has."""
    tmp = Path(tempfile.mkdtemp(prefix="synthlab-bench-gan-conc-"))
    cmd = [sys.executable, "-m", "synthlab", "bench", "gan", "--data", a.data, "--batch", str(a.batch), "--reps",
           str(a.reps), "--device", a.device, "--only-default", "--threads", str(torch.get_num_threads())]
    procs = [subprocess.Popen(cmd + ["--json", str(tmp / f"{k}.json")], stdout=subprocess.DEVNULL) for k in range(n)]
    if any(p.wait() for p in procs):
        raise SynthlabError(f"a concurrent bench process failed: {' '.join(cmd)}")
    out = [json.loads((tmp / f"{k}.json").read_text())["gan"]["steps"][0] for k in range(n)]
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv) -> int:
    p = argparse.ArgumentParser(prog="synthlab bench gan", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    shared = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"
    p.add_argument("--data", default=str(shared) if shared.is_dir() else "data/mnist")
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--chunks", type=int, nargs="+", default=[50, 250], help="chunk sizes of the torch-ops rows")
    p.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()],
                   help="torch threads, each a table")
    p.add_argument("--concurrent", type=int, default=0, help="also run N default steps in N processes at once")
    p.add_argument("--only-default", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--images", type=int, default=10000, help="images per epoch for the projection")
    p.add_argument("--fit-batches", type=int, default=0, help="also run N real Trainer batches")
    common_args(p, "gan")
    a = p.parse_args(argv)

    from synthlab.config import compose, instantiate
    from synthlab.run import build

    cfg = compose(["task=gan", f"data.root={a.data}", f"data.batch_size={a.batch}", "data.download=false",
                   "seed=0"])
    out = tempfile.mkdtemp(prefix="synthlab-bench-gan-")  # the --fit-batches run's checkpoints and samples
    task = build(cfg, out).to(a.device)
    x, y = next(iter(task.train_dataloader()))
    x, y = x.to(a.device), y.to(a.device)
    batches = math.ceil(a.images / a.batch)
    info = machine(a.device)  # before the thread-count loop changes torch's threads
    rows, text = [], (f"batch {a.batch}; epoch = {a.images} images = {batches} batches; "
                      "worst case 16 G + 8 D steps per batch")
    cols = [("threads", "threads", ""), ("step", "step", ""), ("seconds", "s/step", ".2f"),
            ("images_per_s", "images/s", ".0f"), ("speedup", "x reference", ".2f"),
            ("x_best_old", "x best torch-ops path", ".2f"), ("epoch_worst_s", "s/epoch (worst)", ".0f")]
    for t in a.threads:
        torch.set_num_threads(t)
        rows += steps(task, x, y, a)
    text += "\n" + table(rows, cols)
    result = {"batch": a.batch, "steps": rows}
    if a.concurrent:  # at the first thread count: two default jobs, each with all the cores
        torch.set_num_threads(a.threads[0])
        solo = next(r for r in rows if "default" in r["step"])
        conc = concurrent(a, a.concurrent)
        for r in conc:
            r["x_solo"] = r["images_per_s"] / solo["images_per_s"]
        result["concurrent"] = conc
        text += (f"\n\n{a.concurrent} processes at once, {torch.get_num_threads()} threads each, default step: "
                 + ", ".join(f"{r['images_per_s']:.0f} images/s ({r['x_solo']:.2f}x solo)" for r in conc))
    if a.fit_batches:
        from synthlab.run import quiet_lightning

        quiet_lightning()
        task = build(cfg, out)  # fresh weights, as the CLI builds it
        trainer = instantiate(cfg.trainer, accelerator="gpu" if a.device.startswith("cuda") else "cpu", max_epochs=1,
                              limit_train_batches=a.fit_batches, logger=False, enable_progress_bar=False)
        t = time.perf_counter()
        trainer.fit(task, weights_only=True)
        per_batch = (time.perf_counter() - t) / a.fit_batches
        result["fit"] = {"batches": a.fit_batches, "s_per_batch": per_batch, "epoch_s": per_batch * batches}
        text += (f"\n\nreal Trainer, first {a.fit_batches} batches from scratch: {per_batch:.1f} s/batch, "
                 f"{a.batch / per_batch:.0f} images/s -> {per_batch * batches:.0f} s per {a.images}-image epoch")
    shutil.rmtree(out, ignore_errors=True)
    if a.only_default:
        from synthlab.io import write_json

        write_json(a.json, {"machine": info, "gan": result})
        return 0
    return finish("gan", a, info, result, text)
