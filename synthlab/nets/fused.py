"""Fused CPU kernels, built on first use: the residual generator (rescppn.cc, forward and
backward), the plain CPPN (cppn.cc, forward: renders), Neural Patches' score reduction
(losses/patchscore.cc) and the sliced Wasserstein critic's row sort (losses/sortrows.cc).

torch runs the 6-wide generator as 120 memory-bound (6, B*N) layers; the kernel runs each point
through all of them in registers and recomputes them in the backward, so it stores nothing
between the passes. It is built with the system C++ compiler (about 2 s, cached under
~/.cache/synthlab/kernels, keyed by source, flags and CPU) and called through ctypes from
torch.get_num_threads() threads over fixed work groups, so its sums do not depend on the
thread count. Where there is no compiler, or on CUDA, the torch path runs instead.
"""

import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch import nn

from synthlab.errors import SynthlabError
from synthlab.nets.layers import Sin

HERE = Path(__file__).parent
HEADER = HERE / "vmath.h"  # the vector math both kernels include
FLAGS = ["-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno"]
WIDTHS = range(1, 9)  # the residual kernel's compiled widths
GROUPS = 64  # backward work groups: fixed, so the gradient sums are the same for any thread count


def _signatures(so, name: str) -> None:
    i, i64, p = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
    if name == "rescppn":
        so.syn_forward.argtypes = [i, i, i, i, i64, i64, *[p] * 8, i64, i64]
        so.syn_backward.argtypes = [i, i, i, i, i64, i64, *[p] * 11, i64, i64, i64]
        so.syn_forward.restype = so.syn_backward.restype = i
    elif name == "patchscore":
        so.syn_patch_scores.argtypes = [p, i64, i64, i64, i64, p, p, p, i64, i64]
        so.syn_patch_scores.restype = i
    elif name == "sortrows":
        so.syn_sort_rows.argtypes = [p, i64, p, i64, i64]
        so.syn_sort_rows.restype = i
    else:
        so.syn_cppn_forward.argtypes = [i, p, i, i64, i64, *[p] * 9, i64, i64]
        so.syn_cppn_forward.restype = i
        so.syn_cppn_points_per_block.restype = i


# rescppn.cc: the residual generator, forward and backward; cppn.cc: the plain CPPN, forward;
# losses/patchscore.cc: Neural Patches' score reduction (matching); losses/sortrows.cc: the
# sliced Wasserstein critic's sort
SOURCES = {"rescppn": HERE / "rescppn.cc", "cppn": HERE / "cppn.cc",
           "patchscore": HERE.parent / "losses" / "patchscore.cc", "sortrows": HERE.parent / "losses" / "sortrows.cc"}
KERNELS = tuple(SOURCES)
_libs, _whys, _lock, _pool = {}, {}, threading.Lock(), {}


def _cpu_tag() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return ""


def _build(name: str) -> ctypes.CDLL:
    source = SOURCES[name]
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise OSError("no C++ compiler (g++) on PATH")
    key = hashlib.sha256(source.read_bytes() + HEADER.read_bytes() + " ".join(FLAGS).encode() + _cpu_tag().encode()
                         + subprocess.run([cxx, "--version"], capture_output=True).stdout).hexdigest()[:16]
    cache = Path(os.environ.get("SYNTHLAB_KERNELS", Path.home() / ".cache" / "synthlab" / "kernels"))
    lib = cache / f"{name}-{key}.so"
    if not lib.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
        os.close(fd)
        r = subprocess.run([cxx, *FLAGS, "-I", str(HERE), str(source), "-o", tmp], capture_output=True, text=True)
        if r.returncode:
            os.unlink(tmp)
            raise OSError(f"{cxx} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        os.replace(tmp, lib)  # atomic: a concurrent build finds a whole file or none
    so = ctypes.CDLL(str(lib))
    _signatures(so, name)
    return so


def library(name: str = "rescppn"):
    """The built kernel `name` (one of KERNELS), or None (and why_not(name) says why)."""
    with _lock:
        if name not in _libs and name not in _whys:
            try:
                _libs[name] = _build(name)
            except OSError as e:
                said = str(e) in _whys.values()  # no compiler: one line for all the kernels
                _whys[name] = str(e)
                if not said:  # one line per process: kernel=auto runs torch's ops, slower but the same
                    print(f"synthlab: the fused CPU kernel {name}.cc is not built ({e}); torch's ops run instead",
                          file=sys.stderr)
    return _libs.get(name)


def why_not(name: str = "rescppn") -> str | None:
    library(name)
    return _whys.get(name)


def _run(fn, n: int, chunks: int = 4):
    """fn(lo, hi) over [0, n) on torch.get_num_threads() threads (ctypes drops the GIL), in
    `chunks` pieces per thread taken as threads free up, so one slow core does not hold the
    rest. Each piece writes its own outputs (points, or gradient groups), so the pieces' order
    changes no result."""
    t = max(1, min(torch.get_num_threads(), n))
    if t == 1:
        return fn(0, n)
    pool = _pool.get(t) or _pool.setdefault(t, ThreadPoolExecutor(t, thread_name_prefix="synthlab-cppn"))
    k = min(n, t * chunks)
    for f in [pool.submit(fn, i * n // k, (i + 1) * n // k) for i in range(k)]:
        f.result()


def run_pieces(fn, pieces: int) -> None:
    """fn(lo, hi) over pieces [0, pieces), one piece per task on the kernel threads."""
    _run(fn, pieces, chunks=1) if pieces > 1 else fn(0, pieces)


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


def _dims(base, cb, bw, ow) -> tuple:
    """(width, blocks, sub_depth, channels, images, points, work items of one point block each)."""
    n, b = base.shape[1], cb.shape[0]
    return base.shape[0], bw.shape[0], bw.shape[1] - 1, ow.shape[0], b, n, b * -(-n // library().syn_points_per_block())


class _Fused(torch.autograd.Function):
    """zb (B, blocks, W), z's per-image bias on each block's first layer (network.z_blocks), or
    an empty tensor where the net has none."""

    @staticmethod
    def forward(ctx, base, cb, bw, bb, ow, ob, zb):
        lib = library()
        W, nb, S, C, B, N, items = _dims(base, cb, bw, ow)
        args = [t.detach().contiguous() for t in (base, cb, bw, bb, ow, ob, zb)]
        y = torch.empty(B, C, N)
        zp = _ptr(args[-1]) if zb.numel() else None
        _run(lambda a, b: lib.syn_forward(W, nb, S, C, B, N, *map(_ptr, args[:-1]), zp, _ptr(y), a, b), items)
        ctx.save_for_backward(*args)
        return y

    @staticmethod
    def backward(ctx, gy):
        lib = library()
        base, cb, bw, bb, ow, ob, zb = ctx.saved_tensors
        W, nb, S, C, B, N, items = _dims(base, cb, bw, ow)
        groups = min(GROUPS, items)
        sizes = [bw.numel(), bb.numel(), ow.numel(), ob.numel()]
        acc = torch.empty(groups, sum(sizes), dtype=torch.float64)
        du0 = torch.empty(B, W, N)
        dzb = torch.empty(items, nb, W, dtype=torch.float64) if zb.numel() else None
        zp, dzp = (_ptr(zb), _ptr(dzb)) if zb.numel() else (None, None)
        gy = gy.contiguous().float()
        _run(lambda a, b: lib.syn_backward(W, nb, S, C, B, N, *map(_ptr, (base, cb, bw, bb, ow, ob)), zp, _ptr(gy),
                                           _ptr(du0), dzp, _ptr(acc), groups, a, b), groups)
        grads = acc.sum(0).float().split(sizes)  # the groups summed in their fixed order
        dbw, dbb, dow, dob = (g.view_as(t) for g, t in zip(grads, (bw, bb, ow, ob)))
        # each image's point blocks summed in order (a sum over a middle dimension runs sequentially)
        dz = dzb.view(B, -1, nb, W).sum(1).float() if dzb is not None else None
        return du0.sum(0), du0.sum(2), dbw, dbb, dow, dob, dz


def usable(net, pts: torch.Tensor) -> bool:
    """Whether the fused kernel can run this net on these points (CPU, float32, width <= 8)."""
    return (pts.device.type == "cpu" and pts.dtype == torch.float32 and net.width in WIDTHS
            and library() is not None)


def residual_cppn(net, pts: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """net (a ResidualCPPN) on pts (in_dim, N) for z (B, z_dim) -> (B, channels, N), fused."""
    if not usable(net, pts):
        why = why_not() or "it needs float32 on the CPU and width <= 8"
        raise SynthlabError(f"network.kernel=fused cannot run here: {why}")
    a = net.coord_in.weight  # (W, in_dim), no bias
    # (W, N): the coordinate part, shared by every image, as a fixed-order sum per point (an mm
    # would round differently for another N, and tiles of a big render would show seams)
    base = sum(a[:, k:k + 1] * pts[k:k + 1] for k in range(a.shape[1]))
    cb = net.z_in((z * net.z_scale)[:, :, None])[:, :, 0]  # (B, W): the z part with the bias
    bw = torch.stack([torch.stack([l.weight for l in block]) for block in net.blocks])
    bb = torch.stack([torch.stack([l.bias for l in block]) for block in net.blocks])
    zb = net.block_bias(z) if net.z_block is not None else torch.empty(0)
    return _Fused.apply(base, cb, bw, bb, net.out.weight, net.out.bias, zb)


# The plain kernel's activations, declared: module type -> (code in cppn.cc's Act, parameters).
ACTIVATIONS = {
    nn.Identity: lambda m: (0, 0.0, 0.0),
    nn.Tanh: lambda m: (1, 0.0, 0.0),
    nn.Sigmoid: lambda m: (2, 0.0, 0.0),
    nn.ReLU: lambda m: (3, 0.0, 0.0),
    nn.LeakyReLU: lambda m: (4, m.negative_slope, 0.0),
    nn.ELU: lambda m: (5, m.alpha, 0.0),
    nn.Softplus: lambda m: (6, m.beta, m.threshold),
    Sin: lambda m: (7, m.freq, 0.0),
    nn.GELU: lambda m: (8 if m.approximate == "none" else 9, 0.0, 0.0),
}
MAX_WIDTH = 256  # cppn.cc's MAXW
MAX_INPUTS = 8


def _acts(net) -> list:
    return [net.in_act, *[net.act] * len(net.hidden), net.out_act]


def cannot_build(net) -> str | None:
    """Why the plain kernel can never run this CPPN (its activations, widths or the compiler);
    None where it can."""
    bad = [type(m).__name__ for m in _acts(net) if type(m) not in ACTIVATIONS]
    if bad:
        return f"it has no {bad[0]} (it runs {', '.join(sorted(t.__name__ for t in ACTIVATIONS))})"
    if max(l.weight.shape[0] for l in (net.coord_in, *net.hidden, net.out)) > MAX_WIDTH:
        return f"it runs widths up to {MAX_WIDTH}"
    if net.in_dim > MAX_INPUTS:
        return f"it runs up to {MAX_INPUTS} coordinate inputs"
    if library("cppn") is None:
        return why_not("cppn")
    return None


def cannot_run(net, pts: torch.Tensor) -> str | None:
    """Why the plain kernel cannot run this CPPN on these points now; None where it can."""
    if pts.device.type != "cpu" or pts.dtype != torch.float32:
        return "it runs float32 on the CPU (torch's ops run on CUDA)"
    if torch.is_grad_enabled() and any(p.requires_grad for p in net.parameters()):
        return "it renders only: a gradient needs torch's ops (network.kernel=auto)"
    return cannot_build(net)


def cppn(net, pts: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
    """net (a plain CPPN) on pts (in_dim, N) for z (B, z_dim) or None -> (B, channels, N), fused."""
    why = cannot_run(net, pts)
    if why:
        raise SynthlabError(f"network.kernel=fused cannot run this CPPN: {why}")
    lib = library("cppn")
    layers = [*net.hidden, net.out]
    w0 = net.coord_in.weight.shape[0]
    if net.z_in is None:  # no latent: the input layer's bias is its per-image part
        bias = net.coord_in.bias
        cb = (bias if bias is not None else torch.zeros(w0))[None]
    else:
        cb = net.z_in((z * net.z_scale)[:, :, None])[:, :, 0]  # (B, W0): FC(z) with the bias
    widths = torch.tensor([w0] + [l.weight.shape[0] for l in layers], dtype=torch.int32)
    codes = [ACTIVATIONS[type(m)](m) for m in _acts(net)]
    acts = torch.tensor([c[0] for c in codes], dtype=torch.int32)
    pa, pb = (torch.tensor([c[k] for c in codes], dtype=torch.float32) for k in (1, 2))
    w = torch.cat([l.weight.reshape(-1) for l in layers])
    b = torch.cat([l.bias if l.bias is not None else torch.zeros(l.weight.shape[0]) for l in layers])
    pts, a, cb, w, b = (t.detach().float().contiguous() for t in (pts, net.coord_in.weight, cb, w, b))
    B, N, C = cb.shape[0], pts.shape[1], net.channels
    y = torch.empty(B, C, N)
    items = B * -(-N // lib.syn_cppn_points_per_block())
    args = [_ptr(t) for t in (widths,)] + [net.in_dim, B, N] + [_ptr(t) for t in (pts, a, cb, w, b, acts, pa, pb, y)]
    fails = []
    _run(lambda lo, hi: fails.append(lib.syn_cppn_forward(len(layers), *args, lo, hi)), items)
    if any(fails):
        raise SynthlabError("network.kernel=fused: the CPPN kernel refused these shapes")  # cannot_build guards this
    return y
