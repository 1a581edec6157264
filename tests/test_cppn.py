import json
import shutil

import pytest
import torch
from conftest import from_yaml, z_blocks_drawn
from PIL import Image

from synthlab import SynthlabError
from synthlab.config import instantiate
from synthlab.metrics import complexity
from synthlab.nets.cppn import CPPN, Coords, ResidualCPPN, n_params
from synthlab.nets.layers import Normal
from synthlab.render import check_size, render, timeline
from synthlab.run import build, run

FAST = ["logger=none", "trainer.enable_progress_bar=false"]


def test_coordinate_modes():
    assert Coords("symmetric", 8.0).axis(5).tolist() == [-8, -4, 0, 4, 8]
    assert Coords("centered", 1.0).axis(4).tolist() == [-0.5, -0.25, 0, 0.25]
    assert Coords("pixel").axis(3).tolist() == [0, 1, 2]
    assert Coords("symmetric", 8.0, zoom=0.5).axis(3).tolist() == [-4, 0, 4]
    pts = Coords("symmetric", 1.0).points(3, 2, 1, 3)
    assert pts.shape == (3, 4)  # x, y, r for rows 1..2 of a 3x2 image, row-major
    assert pts[1].tolist() == [0, 0, 1, 1] and pts[0].tolist() == [-1, 1, -1, 1]
    with pytest.raises(SynthlabError, match="symmetric, centered, pixel"):
        Coords("polar")


def test_residual_cppn_matches_the_reference_size_and_init():
    net = from_yaml(ResidualCPPN, "network/resnet_cppn", seed=0, z_blocks=False)
    assert n_params(net) == 5263  # cppn_gan.md A3
    assert n_params(from_yaml(ResidualCPPN, "network/resnet_cppn", seed=0)) == 5263 + 32 * 24 * 6  # z_blocks
    gate = net.blocks[0][-1].weight
    assert gate.std() < 0.01 and net.blocks[0][0].weight.std() > 0.5


@pytest.mark.parametrize("make", [
    lambda: z_blocks_drawn(from_yaml(ResidualCPPN, "network/resnet_cppn", seed=1)),
    lambda: from_yaml(CPPN, "network/cppn", torch.nn.Tanh, Normal(1.0, bias="same"), torch.nn.Sigmoid, depth=8, width=16, z_dim=8, seed=1),
])
def test_tiled_render_equals_one_pass_and_batches_equal_singles(make):
    net = make()
    c = Coords("symmetric", 8.0)
    z = torch.randn(3, net.z_dim, generator=torch.Generator().manual_seed(0))
    whole = render(net, c, 97, 61, z, tile=10**9)
    tiled = render(net, c, 97, 61, z, tile=500)
    assert (whole - tiled).abs().max() <= 1e-6
    single = render(net, c, 97, 61, z[1:2], tile=700)
    assert (whole[1:2] - single).abs().max() <= 1e-6


def test_impossible_sizes_are_refused_before_allocating():
    with pytest.raises(SynthlabError, match="positive"):
        check_size(0, 10, 3)
    with pytest.raises(SynthlabError, match=r"needs about \d+\.\d GiB"):
        check_size(10**6, 10**6, 3)


def test_timeline_easing_and_pingpong():
    t = timeline(5, "linear")
    assert t.tolist() == [0, 0.25, 0.5, 0.75, 1]
    s = timeline(5, "sine", pingpong=True)
    assert len(s) == 8 and s[0] == 0 and s[4] == 1 and s[-1] > 0
    assert s[1] > 0.25  # sine easing starts fast
    with pytest.raises(SynthlabError, match="linear or sine"):
        timeline(5, "cubic")


def test_grey_goo_of_small_init(make_cfg, tmp_path):
    stds = {}
    for init in ("torch_default", "normal"):
        m = run(make_cfg(["experiment=chopra_cppn", f"network/init={init}", "task.size=[64,64]", *FAST],
                         out=tmp_path / init))
        stds[init] = m["std"]
    assert stds["torch_default"] < 0.01 < 0.2 < stds["normal"]


def test_cppn_run_writes_png_and_morph_gif(make_cfg, tmp_path):
    run(make_cfg(["task=cppn", "task.size=[40,56]", "task.animation.kind=morph", "task.animation.frames=6",
                      "task.animation.batch=4", *FAST]))
    out = tmp_path / "run"
    assert Image.open(out / "cppn.png").size == (56, 40)
    gif = Image.open(out / "morph.gif")
    assert gif.n_frames == 10 and gif.size == (56, 40)  # 6 frames, ping-pong back: 6 + 4
    saved = json.loads((out / "metrics.json").read_text())
    assert {"png_bpp", "grad", "hf_share", "std", "params"} <= set(saved) and saved["frames"] == 10


@pytest.mark.parametrize("kind", ["zoom", "weights"])
def test_zoom_and_weight_animations_change_from_frame_to_frame(make_cfg, tmp_path, kind):
    cfg = make_cfg(["task=cppn", "task.size=[24,24]", f"task.animation.kind={kind}", "task.animation.frames=3",
                    "task.animation.pingpong=false", *FAST])
    task = build(cfg, tmp_path)
    for i in range(len(task.jobs)):
        task.predict_step(i)
    assert len(task.frames) == 3
    assert (task.frames[0] - task.frames[-1]).abs().max() > 1e-3
    assert torch.equal(task.stills[0], render(task.net, task.coords, 24, 24, task.zs[:1])[0])  # net restored


def test_bad_cppn_input_is_named(make_cfg, tmp_path):
    for override, words in [("task.coords=polar", "coordinate mode"), ("task.size=[0,10]", "positive"),
                            ("task.z=[1,2]", "z_dim is 8"), ("task.animation.kind=spin", "morph"),
                            ("task.size=[1000000,1000000]", "GiB")]:
        cfg = make_cfg(["task=cppn", override, *FAST])
        with pytest.raises(SynthlabError, match=words):
            build(cfg, tmp_path)


def test_fixed_z_is_used(make_cfg, tmp_path):
    cfg = make_cfg(["task=cppn", "task.z=[1,2,3,4,5,6,7,8]", "task.z_scale=2", *FAST])
    task = build(cfg, tmp_path)
    assert task.zs[0].tolist() == [2, 4, 6, 8, 10, 12, 14, 16]


def test_conv_cppn_size_and_depth_adds_complexity(make_cfg, tmp_path):
    res = {}
    for layers, ch in ((1, 100), (10, 10)):
        m = run(make_cfg(["task=conv_cppn", "task.size=[60,90]", f"network.layers={layers}",
                          f"network.channels={ch}", *FAST], out=tmp_path / str(layers)))
        assert Image.open(tmp_path / str(layers) / "conv_cppn.png").size == (90, 60)
        res[layers] = m
    assert res[10]["grad"] > res[1]["grad"] and res[10]["png_bpp"] > res[1]["png_bpp"]


def test_complexity_orders_flat_below_noise():
    flat, noise = complexity(torch.full((3, 32, 32), 0.5)), complexity(torch.rand(3, 32, 32))
    for k in ("png_bpp", "grad", "hf_share", "std"):
        assert flat[k] < noise[k]


def test_mp4_with_the_video_extra(make_cfg, tmp_path):
    pytest.importorskip("imageio_ffmpeg")
    run(make_cfg(["task=cppn", "task.size=[32,48]", "task.animation.kind=morph", "task.animation.frames=4",
                  "task.animation.format=mp4", *FAST]))
    mp4 = tmp_path / "run" / "morph.mp4"
    assert mp4.stat().st_size > 1000 and mp4.read_bytes()[4:8] == b"ftyp"


@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")),
                    reason="torch.compile on CPU needs a C++ compiler")
def test_compiled_render_equals_eager_to_rounding_and_has_no_tile_seams(make_cfg):
    from synthlab.render import compiled

    cfg = make_cfg(["task=cppn"])
    net = instantiate(cfg.network).eval()
    c = Coords("symmetric", 8.0)
    z = torch.randn(2, net.z_dim, generator=torch.Generator().manual_seed(0))
    eager = render(net, c, 60, 80, z, 1 << 10)
    fast = compiled(net)
    tiled, one = render(net, c, 60, 80, z, 1 << 10, fn=fast), render(net, c, 60, 80, z, 60 * 80 * 2, fn=fast)
    assert torch.equal(tiled, one)
    assert torch.allclose(tiled, eager, atol=1e-3)
