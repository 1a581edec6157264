"""synthlab bench cppn: render speed (megapixels/s) and peak memory of random CPPNs.

Each measurement runs in its own process, so peak memory is that process's high-water mark
(VmHWM), shown whole and above the process's footprint before the render. The reference is
the one-pass render of the reference implementations (every pixel through the net at once);
the rows below it are synthlab's tiled renderer, with the tile size, with torch.compile, and
animation frames rendered in batches rather than one by one.
"""

import argparse
import json
import subprocess
import sys
import time

from synthlab.bench import common_args, finish, machine, table

NETS = {"cppn 8x16 tanh": ["network=cppn", "network.depth=8", "network.width=16"],
        "resnet cppn 24 blocks": ["network=resnet_cppn"]}
TORCH_OPS = {"resnet cppn 24 blocks": ["network.kernel=torch"]}  # nets whose default is the fused CPU kernel
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


def measure(spec: dict) -> dict:
    code = "import json,sys; from synthlab.bench.cppn import worker; print(json.dumps(worker(json.loads(sys.argv[1]))))"
    r = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv) -> int:
    p = argparse.ArgumentParser(prog="synthlab bench cppn", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=SIZES, help="WIDTHxHEIGHT")
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=list(NETS))
    p.add_argument("--tiles", type=int, nargs="+", default=[1 << 18, 1 << 16], help="tile sizes (points)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd nets")
    p.add_argument("--no-reference", action="store_true", help="skip the one-pass reference (slow at 8K)")
    p.add_argument("--frames", type=int, default=8, help="animation frames for the batching rows (0: skip)")
    common_args(p, "cppn")
    a = p.parse_args(argv)
    rows = []
    for net in a.nets:
        for size in a.sizes:
            base = {"net": NETS[net], "hw": hw(size), "device": a.device}
            ops = {**base, "net": NETS[net] + TORCH_OPS.get(net, [])}  # the reference runs torch's ops
            specs = [] if a.no_reference else [("one pass, torch ops (reference)", {**ops, "tile": 0})]
            if net in TORCH_OPS:
                specs.append((f"tiled {a.tiles[0]}, torch ops", {**ops, "tile": a.tiles[0]}))
            specs += [(f"tiled {t}" + (", fused kernel" if net in TORCH_OPS else ""), {**base, "tile": t})
                      for t in a.tiles]
            if a.compile:
                specs.append((f"tiled {a.tiles[0]} + compile (torch ops)",
                              {**base, "tile": a.tiles[0], "compile": True}))
            ref = None
            for name, spec in specs:
                r = {"net": net, "size": size, "variant": name, **measure(spec)}
                if "error" not in r:
                    ref = ref or r
                    r["speedup"] = ref["seconds"] / r["seconds"]
                rows.append(r)
    anim = []
    if a.frames:
        for net in a.nets:
            base = {"net": NETS[net], "hw": hw(a.sizes[0]), "device": a.device, "tile": a.tiles[0],
                    "frames": a.frames}
            one = None
            for batch in sorted({1, min(4, a.frames), a.frames}):
                r = {"net": net, "frames": a.frames, "batch": batch, **measure({**base, "batch": batch})}
                if "error" not in r:
                    one = one or r
                    r["speedup"] = one["seconds"] / r["seconds"]
                    r["fps"] = a.frames / r["seconds"]
                anim.append(r)
    text = table(rows, [("net", "net", ""), ("size", "size", ""), ("variant", "variant", ""), ("seconds", "s", ".2f"),
                        ("mp_per_s", "MP/s", ".2f"), ("peak_mb", "peak MB", ".0f"), ("render_mb", "render MB", ".0f"),
                        ("speedup", "x reference", ".2f"), ("error", "error", "")])
    if anim:
        text += f"\n\nanimation frames at {a.sizes[0]}, rendered in batches\n" + table(
            anim, [("net", "net", ""), ("frames", "frames", ""), ("batch", "batch", ""), ("seconds", "s", ".2f"),
                   ("fps", "frames/s", ".2f"), ("peak_mb", "peak MB", ".0f"), ("speedup", "x one by one", ".2f"),
                   ("error", "error", "")])
    return finish("cppn", a, machine(a.device), {"renders": rows, "animation": anim}, text)
