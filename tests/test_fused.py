"""The fused CPU kernel of the residual CPPN generator against torch's ops (the reference).

Tolerances: the kernel's tanh is a rational fit (a few float32 ulp from torch's), and its sums
run in another order, so outputs agree to 1e-6 and gradients to 1e-4 relative (measured: 2e-6
to 5e-6). Where no C++ compiler builds it, these tests skip and the torch path runs.
"""

import os
import subprocess
import sys

import pytest
import torch
from conftest import from_yaml, z_blocks_drawn

from synthlab import SynthlabError
from synthlab.nets import fused
from synthlab.nets.cppn import Coords, ResidualCPPN
from synthlab.run import build

needs_kernel = pytest.mark.skipif(fused.library() is None, reason=f"no fused kernel here: {fused.why_not()}")
FAST = ["logger=none", "trainer.enable_progress_bar=false"]


def grads(net, pts, z, gy, kernel):
    net.kernel = kernel
    z = z.clone().requires_grad_(True)
    y = net(pts, z)
    params = list(net.parameters())
    return y.detach(), torch.autograd.grad((y * gy).sum(), params + [z])


def rel(a, b):
    return float((a - b).norm() / (b.norm() + 1e-12))


@needs_kernel
@pytest.mark.parametrize("width,channels,side,blocks,z_blocks", [(6, 1, 26, 24, False), (4, 1, 13, 5, False),
                                                                 (6, 3, 11, 3, False), (3, 2, 7, 2, False),
                                                                 (6, 1, 26, 24, True), (3, 2, 7, 2, True)])
def test_forward_and_gradients_match_torch(width, channels, side, blocks, z_blocks):
    net = from_yaml(ResidualCPPN, "network/resnet_cppn", blocks=blocks, width=width, channels=channels, seed=3,
                    z_blocks=z_blocks)
    if z_blocks:
        z_blocks_drawn(net)
    pts = Coords("symmetric", 8.0, 1.0, True).points(side, side, 0, side)  # side^2: not a whole number of blocks
    z = torch.randn(3, 32, generator=torch.Generator().manual_seed(1))
    gy = torch.randn(3, channels, side * side, generator=torch.Generator().manual_seed(2))
    y0, g0 = grads(net, pts, z, gy, "torch")
    y1, g1 = grads(net, pts, z, gy, "fused")
    assert (y0 - y1).abs().max() < 1e-6
    assert max(rel(a, b) for a, b in zip(g1, g0)) < 1e-4


@needs_kernel
@pytest.mark.parametrize("z_blocks", [False, True])
def test_gradients_do_not_depend_on_the_thread_count(z_blocks):
    net = from_yaml(ResidualCPPN, "network/resnet_cppn", blocks=4, width=6, seed=0, kernel="fused", z_blocks=z_blocks)
    if z_blocks:
        z_blocks_drawn(net)
    pts = Coords("symmetric", 8.0, 1.0, True).points(26, 26, 0, 26)
    z, gy = torch.randn(40, 32), torch.rand(40, 1, 676)
    before = torch.get_num_threads()
    try:
        out = []
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            out.append(grads(net, pts, z, gy, "fused")[1])
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(a, b) for g in out[1:] for a, b in zip(out[0], g))


@needs_kernel
def test_each_point_is_its_own_so_tiles_match_one_pass():
    net = z_blocks_drawn(from_yaml(ResidualCPPN, "network/resnet_cppn", blocks=6, width=6, seed=1, kernel="fused"))
    coords = Coords("symmetric", 8.0, 1.0, True)
    z = torch.randn(1, 32)
    with torch.no_grad():
        whole = net(coords.points(40, 50, 0, 40), z)
        tiles = torch.cat([net(coords.points(40, 50, r, min(r + 7, 40)), z) for r in range(0, 40, 7)], dim=2)
    assert torch.equal(whole, tiles)  # bit for bit: no seams in big renders


@needs_kernel
def test_gan_step_on_the_kernel_equals_the_torch_step(make_cfg, tmp_path, mnist):
    """The whole generator + encoder step (one graph, fused) against torch's ops in chunks."""
    gan = build(make_cfg(["task=gan", f"data.root={mnist}", "network.blocks=3", *FAST]), tmp_path)
    gan.E.eval()  # no dropout, so both passes see the same network
    x, y = torch.rand(6, 1, 26, 26), torch.randint(0, 10, (6,))
    out = []
    for kernel, chunk in (("torch", 2), ("fused", 0)):
        gan.G.kernel, gan.chunk = kernel, chunk
        torch.manual_seed(0)
        opt = torch.optim.SGD(list(gan.E.parameters()) + list(gan.G.parameters()), lr=0.0)
        gan.g_update(opt, x, y, backward=torch.Tensor.backward)
        out.append([p.grad.clone() for p in list(gan.E.parameters()) + list(gan.G.parameters())])
    assert max(rel(a, b) for a, b in zip(out[1], out[0])) < 1e-4


def test_z_blocks_starts_as_the_posts_net_and_widens_zs_path():
    """network.z_blocks=true: the same draws and output at init; once its weights move, z acts
    through more than `width` directions (the input layer alone has rank width)."""
    pts = Coords("symmetric", 8.0, 1.0, True).points(9, 9, 0, 9)
    z = torch.randn(40, 32, generator=torch.Generator().manual_seed(0))
    plain = from_yaml(ResidualCPPN, "network/resnet_cppn", blocks=3, width=2, seed=1, kernel="torch", z_blocks=False)
    wide = from_yaml(ResidualCPPN, "network/resnet_cppn", blocks=3, width=2, seed=1, kernel="torch", z_blocks=True)
    with torch.no_grad():
        assert torch.equal(plain(pts, z), wide(pts, z))

    def rank(net):  # of the Jacobian of the picture with respect to z, at one z
        jac = torch.autograd.functional.jacobian(lambda v: net(pts, v[None])[0, 0], z[0])
        return int(torch.linalg.matrix_rank(jac))

    assert rank(plain) <= 2
    assert rank(z_blocks_drawn(wide, seed=2)) > 2


def test_unknown_kernel_lists_the_choices():
    with pytest.raises(SynthlabError, match="auto, fused, torch"):
        from_yaml(ResidualCPPN, "network/resnet_cppn", blocks=1, kernel="cuda")


def test_without_a_compiler_auto_runs_torch_and_fused_says_why(tmp_path):
    """A machine with no g++: `auto` quietly uses torch's ops; `fused` fails in one line."""
    code = ("import torch\nfrom synthlab.nets.cppn import ResidualCPPN, Coords\nfrom synthlab.nets import fused\n"
            "net = ResidualCPPN(blocks=2, width=6, sub_depth=4, channels=1, in_dim=3, z_dim=32, z_scale=8.0, "
            "std_in=0.05, std_relu=1.0, std_gate=0.001, z_blocks=False, kernel='auto', seed=0)\n"
            "pts = Coords('symmetric', 8.0, 1.0, True).points(5, 5, 0, 5)\n"
            "print(net(pts, torch.zeros(1, 32)).shape, fused.why_not())\nnet.kernel = 'fused'\nnet(pts, torch.zeros(1, 32))\n")
    env = dict(os.environ, CXX=str(tmp_path / "no-such-compiler"), SYNTHLAB_KERNELS=str(tmp_path / "k"))
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "torch.Size([1, 1, 25])" in r.stdout
    assert r.returncode == 1 and "network.kernel=fused cannot run here" in r.stderr
