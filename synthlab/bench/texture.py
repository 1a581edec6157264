"""synthlab bench texture: the texture task's fast paths, each against the reference.

Per evaluation (features, patch matching, loss and gradient) at each size with the exemplar at
the same size, and the share of it spent matching. With --runs, whole syntheses (default
3 phases x 100 evaluations at 256 px, through a real Trainer) with their wall time and SWD.
Variants are cumulative: each row adds one fast path to the row above. `--net multiscale`
times the random multiscale network (experiment=random_multiscale, Gram critic) instead:
direct convolution against the exact FFT paths.
"""

import argparse
import time

from synthlab.bench import common_args, finish, machine, sync, table

# every variant pins its knobs (critic, layout, dtype, reuse), so changing the task's defaults never
# changes a row
PATCHES = "critic.patches."
VARIANTS = {
    "reference": {"critic": "reference", "task.channels_last": "false", "task.net_dtype": "float32"},
    "+pixel matching, unfold-free loss": {"critic": "patches", PATCHES + "match_every": "1",
                                          PATCHES + "match_dtype": "float32"},
    "+channels_last": {"task.channels_last": "true"},
    # the default adds a sliced Wasserstein term on the same layers and on conv1_1/conv2_1 of
    # the image pooled by 4, and one on the image's 5x5 pixel patches at three scales (quality, not speed)
    "+sliced term (critic=patches_sliced)": {
        "critic": "patches_sliced", "critic.sliced.weight": "300",
        "critic.sliced.taps": "[conv1_1@4,conv2_1@4,conv3_1,conv4_1]"},
    "+pixel-patch term (critic=[patches_sliced,pixels]) = the default": {"critic": "[patches_sliced,pixels]"},
    "+bf16 network": {"task.net_dtype": "bfloat16"},
    "+bf16 matching": {PATCHES + "match_dtype": "bfloat16"},
    "+matches reused (k), trades SWD": {PATCHES + "match_every": "{k}"},
}


MULTISCALE = {
    "direct convolution": {"experiment": "random_multiscale", "network.conv": "direct"},
    "+FFT for sizes >= 15 (auto)": {"network.conv": "auto"},
    "+FFT for every size": {"network.conv": "fft"},
}


def variants(k: int, names=None, table=VARIANTS) -> dict:
    """Cumulative override lists, in order (a later row's value replaces an earlier one's)."""
    out, acc = {}, {}
    for name, ovr in table.items():
        acc = {**acc, **{key: v.format(k=k) for key, v in ovr.items()}}
        label = name.replace("(k)", f"(k={k})")
        if names is None or name.split(" ")[0] in names or label in names:
            out[label] = [f"{key}={v}" for key, v in acc.items()]
    return out


def build(overrides, device):
    """The texture task as the CLI builds it (nothing is written until it runs)."""
    from synthlab.config import compose
    from synthlab.run import build as build_task

    cfg = compose(overrides)
    return cfg, build_task(cfg, "outputs/bench/texture").to(device)


def match_seconds(task) -> float:
    """Seconds spent matching so far, over every critic that matches (its stats say so)."""
    return sum(c.stats().get("match_seconds", 0.0) for c in task.critics)


def per_eval(size, overrides, evals, device):
    """Seconds per evaluation and the share in matching, at `size` px in one phase."""
    _, task = build([f"task.size=[{size},{size}]", f"task.exemplar_max_side={size}", "task.phases=1",
                     f"task.iterations={evals + 2}", "seed=0", *overrides], device)
    task.start_phase(0)
    task.solver.spend(2, task.loss)  # warm-up: allocator, kernels, the first matching
    m0, n0 = match_seconds(task), task.solver.evals
    sync(device)
    t = time.perf_counter()
    task.solver.spend(evals, task.loss)
    sync(device)
    dt = time.perf_counter() - t
    n = task.solver.evals - n0
    return {"size": size, "evals": n, "s_per_eval": dt / n, "match_share": (match_seconds(task) - m0) / dt}


def synthesis(overrides, device):
    """A whole run (all phases) through a real Trainer: wall seconds and SWD."""
    from synthlab.config import instantiate
    from synthlab.metrics import swd
    from synthlab.run import quiet_lightning

    cfg, task = build(overrides, device)
    quiet_lightning()
    trainer = instantiate(cfg.trainer, accelerator="gpu" if device.startswith("cuda") else "cpu", logger=False,
                          enable_progress_bar=False)
    sync(device)
    t = time.perf_counter()
    trainer.fit(task, weights_only=True)
    sync(device)
    dt = time.perf_counter() - t
    return {"seconds": dt, "evals": task.solver.evals, "swd": swd(task.result(), task.exemplar.float().cpu())["mean"],
            "exemplar": cfg.task.exemplar}


def main(argv) -> int:
    p = argparse.ArgumentParser(prog="synthlab bench texture", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512])
    p.add_argument("--evals", type=int, default=5, help="evaluations timed per size and variant")
    p.add_argument("--iterations", type=int, default=100, help="evaluations per phase")
    p.add_argument("--phases", type=int, default=3)
    p.add_argument("--k", type=int, default=2, help="match_every for the reuse row")
    p.add_argument("--runs", type=int, default=0, metavar="SIZE",
                   help="also time whole syntheses at SIZE px (0: skip)")
    p.add_argument("--exemplars", nargs="+", default=["skimage:grass"], help="for --runs")
    p.add_argument("--net", choices=["random_conv", "multiscale"], default="random_conv",
                   help="random_conv: the patch critic's fast paths; multiscale: direct vs FFT convolution")
    p.add_argument("--variants", nargs="+", default=None,
                   help="first words of the variants to keep "
                        "(reference, +pixel, +channels_last, +sliced, +pixel-patch, +bf16, +matches)")
    common_args(p, "texture")
    p.add_argument("overrides", nargs="*", help="config overrides for every variant, e.g. network/activation=relu")
    a = p.parse_args(argv)
    vs = variants(a.k, a.variants, MULTISCALE if a.net == "multiscale" else VARIANTS)
    rows = []
    for size in a.sizes:
        ref = None
        for name, ovr in vs.items():
            r = {"variant": name, **per_eval(size, [*ovr, *a.overrides], a.evals, a.device)}
            r["s_per_phase"] = r["s_per_eval"] * a.iterations
            ref = ref or r["s_per_eval"]
            r["speedup"] = ref / r["s_per_eval"]
            rows.append(r)
    text = table(rows, [("size", "size", ""), ("variant", "variant", ""), ("s_per_eval", "s/eval", ".4f"),
                        ("match_share", "matching share", ".0%"),
                        ("s_per_phase", f"s/phase ({a.iterations} evals)", ".1f"),
                        ("speedup", "x reference", ".2f")])
    result = {"per_eval": rows}
    if a.runs:
        runs = []
        for ex in a.exemplars:
            ref = None
            for name, ovr in vs.items():
                r = {"variant": name, **synthesis([f"task.size=[{a.runs},{a.runs}]", f"task.exemplar_max_side={a.runs}",
                                                   f"task.phases={a.phases}", f"task.iterations={a.iterations}",
                                                   f"task.exemplar={ex}", "seed=0", *ovr, *a.overrides], a.device)}
                ref = ref or r
                r["speedup"], r["swd_vs_ref"] = ref["seconds"] / r["seconds"], r["swd"] / ref["swd"] - 1
                runs.append(r)
        text += (f"\n\nwhole syntheses: {a.runs} px, {a.phases} phases x {a.iterations} evaluations (real Trainer)\n"
                 + table(runs, [("exemplar", "exemplar", ""), ("variant", "variant", ""), ("seconds", "s", ".1f"),
                                ("evals", "evals", ""), ("swd", "SWD", ".1f"), ("swd_vs_ref", "SWD vs ref", "+.1%"),
                                ("speedup", "x reference", ".2f")]))
        result["runs"] = runs
    return finish("texture", a, machine(a.device), result, text)
