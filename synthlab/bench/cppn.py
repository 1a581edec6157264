"""synthlab bench cppn: render speed (megapixels/s) and peak memory of random CPPNs.

Each measurement runs in its own process, forked from a server that imported synthlab once (a
row costs its render, not an interpreter's start), so peak memory is that process's high-water
mark (VmHWM; a fork starts its own mark at its size), shown whole and above the process's
footprint before the render. For each net, size and thread count the reference is the tiled
render on torch's ops; the default (the fused CPU kernel, for the plain and the residual CPPN)
is timed next to it, and --one-pass adds the reference implementations' render (every pixel
through the net at once). --repeat N measures every row N times in rounds (each round all rows,
one after another), so each round's speed-up compares neighbouring measurements; the tables
show min-max over the rounds. The conv CPPN (the slope image through random convolutions) is
one pass by nature: its rows have no reference. Animation frames are timed one by one and in
batches.
"""

import argparse
import multiprocessing
import time

import torch

from synthlab.bench import common_args, finish, machine, table

NETS = {"cppn 8x16 tanh": ["network=cppn", "network.depth=8", "network.width=16"],
        "resnet cppn 24 blocks": ["network=resnet_cppn"],
        "conv cppn 10x10": ["task=conv_cppn"]}
TORCH_OPS = ["network.kernel=torch"]  # the reference: the CPPNs' default is the fused CPU kernel
ONE_PASS = {"conv cppn 10x10"}  # nets rendered in one pass only (whole-image normalisation)
SIZES = ["1080x1080", "3240x3240", "7680x4320"]  # width x height


def hw(size: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise SystemExit(f"synthlab bench cppn: sizes are WIDTHxHEIGHT, e.g. 1080x1080, got {size!r}") from None
    return h, w


def _mem_kb(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))


def worker(spec: dict) -> dict:
    """In a fresh process: build the net, render once small (warm-up), then time the render."""
    import torch

    from synthlab.config import compose
    from synthlab.nets.cppn import Coords
    from synthlab.render import render
    from synthlab.run import build

    torch.set_num_threads(spec["threads"])
    if "task=conv_cppn" in spec["net"]:
        return conv_worker(spec)
    cfg = compose(["task=cppn", "seed=0", f"task.compile={bool(spec.get('compile'))}", *spec["net"]])
    task = build(cfg, "outputs/bench/cppn")  # as the CLI builds it; renders here write nothing
    net, fn = task.net.to(spec["device"]).eval(), task.forward_fn
    coords = Coords("symmetric", 8.0)
    frames = spec.get("frames", 1)
    z = torch.randn(frames, net.z_dim, generator=torch.Generator().manual_seed(0)) if net.z_dim else None
    h, w = spec["hw"]
    tile = h * w if spec["tile"] == 0 else spec["tile"]
    batch = spec.get("batch", frames)
    render(net, coords, 64, 64, z[:batch] if z is not None else None, min(tile, 64 * 64), fn=fn)  # warm-up
    base = _mem_kb("VmRSS")
    t = time.perf_counter()
    for i in range(0, frames, batch):
        render(net, coords, h, w, z[i:i + batch] if z is not None else None, tile, fn=fn)
    if spec["device"].startswith("cuda"):
        torch.cuda.synchronize()
    dt = time.perf_counter() - t
    return {"seconds": dt, "mp_per_s": h * w * frames / dt / 1e6, "peak_mb": _mem_kb("VmHWM") / 1024,
            "render_mb": (_mem_kb("VmHWM") - base) / 1024}


def conv_worker(spec: dict) -> dict:
    """The conv CPPN's render step (the net on the slope image, the crop, the colour)."""
    from synthlab.config import compose
    from synthlab.run import build

    h, w = spec["hw"]
    small = build(compose(["seed=0", *spec["net"], "task.size=[64,64]"]), "outputs/bench/cppn")
    small.predict_step(0)  # warm-up
    task = build(compose(["seed=0", *spec["net"], f"task.size=[{h},{w}]"]), "outputs/bench/cppn")
    base = _mem_kb("VmRSS")
    t = time.perf_counter()
    task.predict_step(0)
    dt = time.perf_counter() - t
    return {"seconds": dt, "mp_per_s": h * w / dt / 1e6, "peak_mb": _mem_kb("VmHWM") / 1024,
            "render_mb": (_mem_kb("VmHWM") - base) / 1024}


_SERVER = None


def _server():
    """The fork server: synthlab imported once, no thread pool or CUDA started, so each fork is clean."""
    global _SERVER
    if _SERVER is None:
        _SERVER = multiprocessing.get_context("forkserver")
        _SERVER.set_forkserver_preload(["synthlab.bench.cppn", "synthlab.run", "synthlab.render"])
    return _SERVER


def _child(spec: dict, conn) -> None:
    try:
        conn.send(worker(spec))
    except Exception as e:  # one row's failure is that row's line, the bench goes on
        conn.send({"error": f"{type(e).__name__}: {(str(e).splitlines() or [''])[0]}"[:120]})


def measure(spec: dict) -> dict:
    ctx = _server()
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(spec, send))
    proc.start()
    send.close()
    try:
        out = recv.recv()
    except EOFError:  # killed (out of memory) or crashed before it could answer
        out = None
    proc.join()
    return out if out is not None else {"error": f"the measuring process died (exit code {proc.exitcode})"}


def span(values, fmt: str) -> str | None:
    """min-max of a row's rounds, as text ('-' parts dropped)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    lo, hi = min(values), max(values)
    return format(lo, fmt) if len(values) == 1 or format(lo, fmt) == format(hi, fmt) else \
        f"{format(lo, fmt)}-{format(hi, fmt)}"


def rounds(specs: list[tuple[dict, dict]], repeat: int, ref_of) -> list[dict]:
    """Every (row, spec) measured `repeat` times, in rounds; each round's speed-up against the
    same round's reference row (ref_of(row) -> its key, or None); min-max per row."""
    runs = {i: [] for i in range(len(specs))}
    for _ in range(repeat):
        got = {}
        for i, (row, spec) in enumerate(specs):
            got[i] = measure(spec)
            runs[i].append(got[i])
        for i, (row, _) in enumerate(specs):
            ref = ref_of(row)
            j = next((k for k, (r, _) in enumerate(specs) if ref is not None and r["key"] == ref), None)
            if j is not None and "seconds" in got[i] and "seconds" in got[j]:
                got[i]["speedup"] = got[j]["seconds"] / got[i]["seconds"]
    out = []
    for i, (row, _) in enumerate(specs):
        ok = [r for r in runs[i] if "error" not in r]
        res = {k: v for k, v in row.items() if k != "key"}
        if not ok:
            res["error"] = runs[i][0]["error"]
        else:
            for k in ("seconds", "mp_per_s", "peak_mb", "render_mb", "speedup", "fps"):
                vals = [r.get(k) for r in ok]
                if any(v is not None for v in vals):
                    res[k] = min(v for v in vals if v is not None)
                    res[k + "_max"] = max(v for v in vals if v is not None)
                    res[k + "_span"] = span(vals, ".2f" if k not in ("peak_mb", "render_mb") else ".0f")
        out.append(res)
    return out


def main(argv) -> int:
    p = argparse.ArgumentParser(prog="synthlab bench cppn", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=SIZES, help="WIDTHxHEIGHT")
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--tiles", type=int, nargs="+", default=[1 << 18], help="tile sizes (points) of the default")
    p.add_argument("--threads", type=int, nargs="+", default=[torch.get_num_threads()], help="torch threads")
    p.add_argument("--repeat", type=int, default=3, help="rounds: every row is measured this many times")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd nets (torch ops)")
    p.add_argument("--one-pass", action="store_true", help="also time the one-pass render (slow and big at 8K)")
    p.add_argument("--frames", type=int, default=8, help="animation frames for the batching rows (0: skip)")
    common_args(p, "cppn")
    a = p.parse_args(argv)
    if a.repeat < 1 or min(a.threads) < 1:
        raise SystemExit("synthlab bench cppn: --repeat and --threads must be >= 1")
    info = machine(a.device)
    specs = []
    for threads in a.threads:
        for net in a.nets:
            for size in a.sizes:
                base = {"net": NETS[net], "hw": hw(size), "device": a.device, "threads": threads}
                row = {"threads": threads, "net": net, "size": size}
                ref = f"{threads}|{net}|{size}|ref"
                if net in ONE_PASS:
                    specs.append(({**row, "variant": "one pass, torch ops", "key": ref + "x"}, {**base, "tile": 0}))
                    continue
                ops = {**base, "net": NETS[net] + TORCH_OPS}
                specs.append(({**row, "variant": f"tiled {a.tiles[0]}, torch ops (reference)", "key": ref},
                              {**ops, "tile": a.tiles[0]}))
                if a.one_pass:
                    specs.append(({**row, "variant": "one pass, torch ops", "key": ref + "1"}, {**ops, "tile": 0}))
                specs += [({**row, "variant": f"tiled {t}, default (fused kernel)", "key": f"{ref}{t}"},
                           {**base, "tile": t}) for t in a.tiles]
                if a.compile:
                    specs.append(({**row, "variant": f"tiled {a.tiles[0]} + compile (torch ops)", "key": ref + "c"},
                                  {**ops, "tile": a.tiles[0], "compile": True}))
    rows = rounds(specs, a.repeat, lambda r: "|".join(r["key"].split("|")[:3]) + "|ref")
    anim_specs = []
    if a.frames:
        for threads in a.threads:
            for net in [n for n in a.nets if n not in ONE_PASS]:
                base = {"net": NETS[net], "hw": hw(a.sizes[0]), "device": a.device, "tile": a.tiles[0],
                        "frames": a.frames, "threads": threads}
                key = f"{threads}|{net}"
                anim_specs.append(({"threads": threads, "net": net, "frames": a.frames, "batch": 1,
                                    "variant": "torch ops, one by one (reference)", "key": key + "|ref"},
                                   {**base, "net": NETS[net] + TORCH_OPS, "batch": 1}))
                for batch in sorted({1, min(4, a.frames), a.frames}):
                    anim_specs.append(({"threads": threads, "net": net, "frames": a.frames, "batch": batch,
                                        "variant": "default", "key": f"{key}|{batch}"}, {**base, "batch": batch}))
    anim = rounds(anim_specs, a.repeat, lambda r: "|".join(r["key"].split("|")[:2]) + "|ref")
    for r in anim:
        if "seconds" in r:
            r["fps_span"] = span([r["frames"] / r["seconds_max"], r["frames"] / r["seconds"]], ".1f")
    text = f"min-max over {a.repeat} rounds\n" + table(rows, [
        ("threads", "threads", ""), ("net", "net", ""), ("size", "size", ""), ("variant", "variant", ""),
        ("seconds_span", "s", ""), ("mp_per_s_span", "MP/s", ""), ("peak_mb_span", "peak MB", ""),
        ("render_mb_span", "render MB", ""), ("speedup_span", "x reference", ""), ("error", "error", "")])
    if anim:
        text += f"\n\nanimation frames at {a.sizes[0]}\n" + table(anim, [
            ("threads", "threads", ""), ("net", "net", ""), ("frames", "frames", ""), ("batch", "batch", ""),
            ("variant", "variant", ""), ("seconds_span", "s", ""), ("fps_span", "frames/s", ""),
            ("peak_mb_span", "peak MB", ""), ("speedup_span", "x reference", ""), ("error", "error", "")])
    return finish("cppn", a, info, {"repeat": a.repeat, "renders": rows, "animation": anim}, text)
