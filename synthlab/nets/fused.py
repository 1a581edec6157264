"""The residual CPPN generator as one fused CPU kernel (rescppn.cc), built on first use.

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
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from synthlab.errors import SynthlabError

SOURCE = Path(__file__).with_name("rescppn.cc")
FLAGS = ["-O3", "-march=native", "-std=c++17", "-shared", "-fPIC", "-fno-math-errno"]
WIDTHS = range(1, 9)  # the kernel's compiled widths
GROUPS = 64  # backward work groups: fixed, so the gradient sums are the same for any thread count

_lib, _why, _lock, _pool = None, None, threading.Lock(), {}


def _cpu_tag() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((l for l in f if l.startswith("flags")), "")
    except OSError:
        return ""


def _build() -> ctypes.CDLL:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise OSError("no C++ compiler (g++) on PATH")
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS).encode() + _cpu_tag().encode()
                         + subprocess.run([cxx, "--version"], capture_output=True).stdout).hexdigest()[:16]
    cache = Path(os.environ.get("SYNTHLAB_KERNELS", Path.home() / ".cache" / "synthlab" / "kernels"))
    lib = cache / f"rescppn-{key}.so"
    if not lib.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=cache)
        os.close(fd)
        r = subprocess.run([cxx, *FLAGS, str(SOURCE), "-o", tmp], capture_output=True, text=True)
        if r.returncode:
            os.unlink(tmp)
            raise OSError(f"{cxx} failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        os.replace(tmp, lib)  # atomic: a concurrent build finds a whole file or none
    so = ctypes.CDLL(str(lib))
    i, i64, p = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
    so.syn_forward.argtypes = [i, i, i, i, i64, i64, *[p] * 7, i64, i64]
    so.syn_backward.argtypes = [i, i, i, i, i64, i64, *[p] * 9, i64, i64, i64]
    so.syn_forward.restype = so.syn_backward.restype = i
    return so


def library():
    """The built kernel, or None (and why_not() says why)."""
    global _lib, _why
    with _lock:
        if _lib is None and _why is None:
            try:
                _lib = _build()
            except OSError as e:
                _why = str(e)
    return _lib


def why_not() -> str | None:
    library()
    return _why


def _run(fn, n: int):
    """fn(lo, hi) over [0, n) split across torch.get_num_threads() threads (ctypes drops the GIL)."""
    t = max(1, min(torch.get_num_threads(), n))
    if t == 1:
        return fn(0, n)
    pool = _pool.get(t) or _pool.setdefault(t, ThreadPoolExecutor(t, thread_name_prefix="synthlab-cppn"))
    for f in [pool.submit(fn, k * n // t, (k + 1) * n // t) for k in range(t)]:
        f.result()


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


def _dims(base, cb, bw, ow) -> tuple:
    """(width, blocks, sub_depth, channels, images, points, work items of one point block each)."""
    n, b = base.shape[1], cb.shape[0]
    return base.shape[0], bw.shape[0], bw.shape[1] - 1, ow.shape[0], b, n, b * -(-n // library().syn_points_per_block())


class _Fused(torch.autograd.Function):
    @staticmethod
    def forward(ctx, base, cb, bw, bb, ow, ob):
        lib = library()
        W, nb, S, C, B, N, items = _dims(base, cb, bw, ow)
        args = [t.detach().contiguous() for t in (base, cb, bw, bb, ow, ob)]
        y = torch.empty(B, C, N)
        _run(lambda a, b: lib.syn_forward(W, nb, S, C, B, N, *map(_ptr, args), _ptr(y), a, b), items)
        ctx.save_for_backward(*args)
        return y

    @staticmethod
    def backward(ctx, gy):
        lib = library()
        base, cb, bw, bb, ow, ob = ctx.saved_tensors
        W, nb, S, C, B, N, items = _dims(base, cb, bw, ow)
        groups = min(GROUPS, items)
        sizes = [bw.numel(), bb.numel(), ow.numel(), ob.numel()]
        acc = torch.empty(groups, sum(sizes), dtype=torch.float64)
        du0 = torch.empty(B, W, N)
        gy = gy.contiguous().float()
        _run(lambda a, b: lib.syn_backward(W, nb, S, C, B, N, *map(_ptr, (base, cb, bw, bb, ow, ob, gy, du0)),
                                           _ptr(acc), groups, a, b), groups)
        grads = acc.sum(0).float().split(sizes)  # the groups summed in their fixed order
        dbw, dbb, dow, dob = (g.view_as(t) for g, t in zip(grads, (bw, bb, ow, ob)))
        return du0.sum(0), du0.sum(2), dbw, dbb, dow, dob


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
    return _Fused.apply(base, cb, bw, bb, net.out.weight, net.out.bias)
