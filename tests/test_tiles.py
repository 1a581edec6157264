"""Seamless tiles (task.tileable=true): the texture wraps around, through the network's padding,
the critics' patches and the smoothness term, so its copies meet without a seam."""

import pytest
import torch
from conftest import TINY

from synthlab import SynthlabError
from synthlab.metrics.tiles import seam_ratio
from synthlab.run import build, run

TILE = [a for a in TINY if not a.startswith(("task.size", "task.phases", "task.iterations"))] + [
    "task.size=[64,64]", "task.exemplar_max_side=64", "task.phases=1", "task.iterations=40"]


def test_seam_ratio_is_about_one_for_a_periodic_texture_and_large_for_a_crop():
    gen = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 3, 128, 128, generator=gen)
    blur = lambda x, pad: torch.nn.functional.avg_pool2d(torch.nn.functional.pad(x, (2,) * 4, mode=pad), 5, 1)[0]
    periodic = blur(noise[..., :64, :64], "circular")  # a smooth texture that wraps around
    crop = blur(noise, "replicate")[:, :64, :64]  # the same kind of texture, cut from a larger one
    assert 0.8 < seam_ratio(periodic) < 1.25
    assert seam_ratio(crop) > 3


def edges(img: torch.Tensor):
    """Mean squared difference across each interior column and row edge, and across the two
    wrap-around edges (last column to first, last row to first)."""
    x = img.double()
    inner = torch.cat([((x[:, :, 1:] - x[:, :, :-1]) ** 2).mean((0, 1)), ((x[:, 1:] - x[:, :-1]) ** 2).mean((0, 2))])
    seam = torch.stack([((x[:, :, 0] - x[:, :, -1]) ** 2).mean(), ((x[:, 0] - x[:, -1]) ** 2).mean()])
    return inner, seam


def test_a_tileable_texture_has_no_seam_and_an_ordinary_one_does(make_cfg, tmp_path):
    """A tile's wrap-around edges look like any of its interior edges (each within their range;
    one 64 px tile's seam_ratio varies 0.7-1.2 from seed to seed, so a single ratio is no test),
    and an ordinary output's do not. Two seeds each."""
    import numpy as np
    from PIL import Image

    for seed in (0, 1):
        for tileable in (True, False):
            out = tmp_path / f"{tileable}{seed}"
            m = run(make_cfg([*TILE, f"task.tileable={tileable}", f"seed={seed}"], out=out))
            img = torch.from_numpy(np.asarray(Image.open(out / "texture.png"), dtype=np.float64) / 255).permute(2, 0, 1)
            inner, seam = edges(img)
            within = bool(((seam >= inner.min()) & (seam <= inner.max())).all())
            assert within == tileable, (seed, tileable, seam.tolist(), inner.min().item(), inner.max().item())
            assert (m["seam_ratio"] < 1.5) == tileable, m["seam_ratio"]
    assert (tmp_path / "True0" / "tiled_3x3.png").is_file() and not (tmp_path / "False0" / "tiled_3x3.png").exists()


@pytest.mark.parametrize("extra, words", [
    (["experiment=random_multiscale", "network.padding=valid"], "task.tileable needs network.padding=circular"),
    (["task.size=[60,64]"], "task.tileable: the output's sides must be multiples of 8 for conv4_1"),
])
def test_what_cannot_tile_says_so_in_one_line(make_cfg, extra, words):
    with pytest.raises(SynthlabError, match=words):
        build(make_cfg([*TILE, "task.tileable=true", *extra]), "/tmp/unused")


def test_a_tile_objective_sees_no_seam(make_cfg):
    """In a tile every edge is an interior edge: the objective (network with circular padding,
    every critic, smoothness, chroma) and its gradient do not change when the image is rolled
    by a multiple of the deepest tap's stride, so the wrap-around seam is pulled exactly as the
    interior is. An ordinary output's objective does change (its borders are borders)."""
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    for tileable in (True, False):
        task = build(make_cfg([*TILE, f"task.tileable={tileable}"]), "/tmp/unused")
        task.set_targets(0)
        losses, grads = [], []
        for shift in (0, 32):  # conv4_1 strides 8, its @4 twin 32
            task.image = torch.nn.Parameter(torch.roll(x, (shift, shift), (2, 3)))
            loss = task.loss()
            loss.backward()
            losses.append(float(loss))
            grads.append(torch.roll(task.image.grad, (-shift, -shift), (2, 3)))
        gap = (grads[0] - grads[1]).abs().max() / grads[0].abs().max()
        if tileable:
            assert abs(losses[0] - losses[1]) < 1e-5 * losses[0] and gap < 1e-3, (losses, gap)
        else:
            assert abs(losses[0] - losses[1]) > 1e-4 * losses[0] and gap > 1e-2, (losses, gap)
