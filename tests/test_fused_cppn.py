"""The plain CPPN's fused render kernel (cppn.cc) against torch's ops, the reference.

Every activation of the network/activation group, each width schedule, bias and input
variant. Two yardsticks: on well-conditioned nets (weights N(0, 0.3^2)) the kernel equals torch
to 1e-5; on the default N(0, 1) nets, which amplify a last-bit difference layer after layer
(torch's float32 is itself up to 1e-2 from float64 on sin nets), the kernel is as close to a
float64 render as torch's float32 is. Where no C++ compiler builds it, these tests skip.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from synthlab import SynthlabError
from synthlab.config import compose, instantiate
from synthlab.nets import fused
from synthlab.nets.cppn import Coords

needs_kernel = pytest.mark.skipif(fused.library("cppn") is None, reason=f"no fused kernel: {fused.why_not('cppn')}")
ACTS = sorted(p.stem for p in (Path(__file__).parents[1] / "conf" / "network" / "activation").glob("*.yaml"))
VARIANTS = [[], ["network.schedule=halving"], ["network.z_dim=0"], ["network.bias=first", "network.in_dim=2"],
            ["network.bias=none", "network.depth=2", "network.width=37"]]


def net_and_points(overrides, side=(23, 29)):
    net = instantiate(compose(["task=cppn", *overrides]).network)
    pts = Coords("symmetric", 8.0, use_r=net.in_dim == 3).points(*side, 0, side[0])  # not whole blocks of 16
    z = torch.randn(3, net.z_dim, generator=torch.Generator().manual_seed(1)) if net.z_dim else None
    return net, pts, z


def both(net, pts, z):
    with torch.no_grad():
        net.kernel = "torch"
        a = net(pts, z)
        net.kernel = "fused"
        return a, net(pts, z)


@needs_kernel
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: ",".join(v) or "default")
def test_equals_torch_to_1e5_on_well_conditioned_nets(act, variant):
    net, pts, z = net_and_points([f"network/activation={act}", "network.init.std=0.3", *variant])
    a, b = both(net, pts, z)
    assert a.shape == b.shape and (a - b).abs().max() < 1e-5


@needs_kernel
@pytest.mark.parametrize("act", ACTS)
def test_as_close_to_float64_as_torch_is_on_the_default_chaotic_nets(act):
    net, pts, z = net_and_points([f"network/activation={act}", "network.width=24"])
    a, b = both(net, pts, z)
    exact = copy.deepcopy(net).double()
    exact.kernel = "torch"
    with torch.no_grad():
        r = exact(pts.double(), z.double()).float()
    torch_err, kernel_err = (a - r).abs().mean(), (b - r).abs().mean()
    assert kernel_err <= 3 * torch_err + 1e-6, (float(kernel_err), float(torch_err))


@needs_kernel
def test_tiles_and_thread_counts_give_the_same_bits():
    net, _, z = net_and_points(["network/activation=sin"])
    coords = Coords("symmetric", 8.0)
    before = torch.get_num_threads()
    outs = []
    try:
        with torch.no_grad():
            for t in (1, 2, 3):
                torch.set_num_threads(t)
                outs.append(torch.cat([net(coords.points(40, 50, r, min(r + 7, 40)), z) for r in range(0, 40, 7)], 2))
            outs.append(net(coords.points(40, 50, 0, 40), z))
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(outs[0], o) for o in outs[1:])


@needs_kernel
def test_auto_renders_on_the_kernel_and_trains_on_torch():
    net, pts, z = net_and_points([])
    assert net.kernel == "auto"
    with torch.no_grad():
        assert fused.cannot_run(net, pts) is None  # a render: the kernel
    assert "gradient" in fused.cannot_run(net, pts)
    y = net(pts, z)  # a gradient is wanted: torch's ops, and it flows
    y.sum().backward()
    assert net.coord_in.weight.grad.abs().sum() > 0
    net.kernel = "fused"
    with pytest.raises(SynthlabError, match="renders only"):
        net(pts, z)


def test_forcing_the_kernel_on_a_net_it_cannot_run_is_one_line(tmp_path):
    with pytest.raises(SynthlabError, match=r"network.kernel=fused cannot run this CPPN: it has no SiLU .*kernel=auto"):
        instantiate(compose(["task=cppn", "network.kernel=fused", "network.activation._target_=torch.nn.SiLU"]).network)
    # auto on the same net: torch's ops, silently (the activation is the user's choice)
    net, pts, z = net_and_points(["network.activation._target_=torch.nn.SiLU"])
    with torch.no_grad():
        assert net(pts, z).shape == (3, 3, pts.shape[1])


def test_a_machine_without_a_compiler_renders_on_torch_and_says_so_once(tmp_path):
    code = ("import torch; from synthlab.config import compose, instantiate; from synthlab.nets.cppn import Coords\n"
            "net = instantiate(compose(['task=cppn']).network)\n"
            "pts = Coords('symmetric', 8.0).points(8, 8, 0, 8)\n"
            "with torch.no_grad(): net(pts, torch.randn(1, 8)); net(pts, torch.randn(1, 8))\n"
            "print('rendered')\n"
            "instantiate(compose(['task=cppn', 'network.kernel=fused']).network)\n")
    env = {**os.environ, "CXX": "/nonexistent/g++", "SYNTHLAB_KERNELS": str(tmp_path)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert "rendered" in r.stdout
    notes = [l for l in r.stderr.splitlines() if l.startswith("synthlab: the fused CPU kernel")]
    assert len(notes) == 1 and "torch's ops run instead" in notes[0]
    assert "network.kernel=fused cannot run this CPPN" in r.stderr.strip().splitlines()[-1]
