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


def test_a_tileable_texture_has_no_seam_and_an_ordinary_one_does(make_cfg, tmp_path):
    ratios = {}
    for tileable in (True, False):
        m = run(make_cfg([*TILE, f"task.tileable={tileable}"], out=tmp_path / str(tileable)))
        ratios[tileable] = m["seam_ratio"]
    assert abs(ratios[True] - 1) <= 0.1, ratios  # the wrap-around seam is like any interior edge
    assert ratios[False] > ratios[True], ratios
    assert (tmp_path / "True" / "tiled_3x3.png").is_file() and not (tmp_path / "False" / "tiled_3x3.png").exists()


@pytest.mark.parametrize("extra, words", [
    (["experiment=random_multiscale", "network.padding=valid"], "task.tileable needs network.padding=circular"),
    (["task.size=[60,64]"], "task.tileable: the output's sides must be multiples of 8 for conv4_1"),
])
def test_what_cannot_tile_says_so_in_one_line(make_cfg, extra, words):
    with pytest.raises(SynthlabError, match=words):
        build(make_cfg([*TILE, "task.tileable=true", *extra]), "/tmp/unused")
