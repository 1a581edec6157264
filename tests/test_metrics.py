import torch

from synthlab.data import load_image
from synthlab.metrics import copy_shares, laplacian_pyramid, swd
from synthlab.metrics.swd import n_levels


def _grass():
    return load_image("skimage:grass")


def test_pyramid_reconstructs_the_image():
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    levels = laplacian_pyramid(x, n_levels(64, 64))
    assert len(levels) == 3  # 64, 32 band-pass, 16 low-pass
    rec = levels[-1]
    for band in reversed(levels[:-1]):
        rec = torch.nn.functional.interpolate(rec, size=band.shape[-2:], mode="bilinear", align_corners=False) + band
    assert torch.allclose(rec, x, atol=1e-12)


def test_swd_orders_real_texture_above_noise_and_is_deterministic():
    g = _grass()
    a, b = g[:, :256, :256], g[:, 256:, 256:]  # two disjoint samples of one texture
    same = swd(b, a)["mean"]
    assert same == swd(b, a)["mean"]
    assert same < swd(torch.rand_like(a), a)["mean"] / 3
    assert same < swd(torch.full_like(a, 0.5), a)["mean"] / 3


def test_copy_share_separates_copies_from_new_arrangements():
    g = _grass()
    ex = g[:, :256, :256]
    crop = ex[:, 37:237, 11:211]
    assert copy_shares(crop, ex) == {"copy32": 1.0, "copy64": 1.0}
    other = g[:, 256:, 256:]  # same texture, never seen: almost nothing counts as copied
    s = copy_shares(other, ex)
    assert s["copy32"] < 0.05 and s["copy64"] == 0.0
    assert copy_shares(torch.rand(3, 128, 128), ex)["copy32"] == 0.0


def test_swd_band_and_floor():
    """band is the mean of the band-pass levels (the low-pass level left out); the floor is
    the exemplar rolled by half against itself: for a periodic image whose period divides half
    its size that is the image against itself, and for a real photo well below noise."""
    from synthlab.metrics import swd_floor

    g = torch.Generator().manual_seed(0)
    tile = torch.rand(3, 32, 32, generator=g)
    periodic = tile.repeat(1, 4, 4)  # 128 px, period 32: rolled by 64 it is itself
    assert swd_floor(periodic) == swd(periodic, periodic)
    a = _grass()[:, :128, :128]
    s = swd(torch.rand_like(a), a)
    assert s["band"] == sum(s["levels"][:-1]) / (len(s["levels"]) - 1)
    assert 0 < swd_floor(a)["mean"] < s["mean"] / 2



def test_colour_grain_sees_chroma_dots_and_not_grey_texture():
    import torch

    from synthlab.metrics import grain, grain_ratio

    gen = torch.Generator().manual_seed(0)
    grey = torch.rand(1, 64, 64, generator=gen).expand(3, 64, 64)  # busy, but grey
    assert grain(grey) < 1e-9
    dots = (grey + 0.05 * torch.randn(3, 64, 64, generator=gen)).clamp(0, 1)
    r = grain_ratio(dots, grey)
    assert r["grain"] > 5 and r["grain_ratio"] == r["grain"] / 0.5  # the exemplar's grain floored at 0.5
    flat_tint = torch.stack([grey[0] * 0 + 0.6, grey[0] * 0 + 0.4, grey[0] * 0 + 0.5])
    assert grain(flat_tint) < 1e-9  # colour without high-frequency change is not grain


def test_the_exemplar_noise_start_keeps_a_grey_exemplar_grey(make_cfg):
    import torch
    from conftest import TINY

    from synthlab.metrics import grain
    from synthlab.run import build

    for noise, grey in (("exemplar", True), ("spot", True), ("rgb", False)):
        task = build(make_cfg([*TINY, "task.exemplar=skimage:gravel", f"task.noise={noise}"]), "/tmp/unused")
        x = (task.initial_image(48, 48)[0] + 1) / 2
        assert (grain(x) < 1e-6) == grey, noise
        assert torch.equal(task.initial_image(48, 48), task.initial_image(48, 48))  # same seed, same start


def test_spot_noise_keeps_the_exemplars_period_mean_and_colours_with_fresh_phases():
    """The random-phase start: stripes of period 8 give a start whose strongest frequency is the
    stripes' own, at the exemplar's mean and colour ratios; each draw has other phases."""
    import torch

    from synthlab.tasks.texture import spot_noise

    gen = torch.Generator().manual_seed(0)
    x = torch.arange(32.0)
    stripes = (0.5 + 0.4 * torch.sin(2 * torch.pi * x / 8)).expand(3, 32, 32) * torch.tensor([1.0, 0.8, 0.6])[:, None, None]
    out = spot_noise(stripes, 64, 96, gen)[0]
    assert out.shape == (3, 64, 96)
    spec = torch.fft.rfft2(out[0] - out[0].mean()).abs()
    assert divmod(int(spec.argmax()), spec.shape[1]) == (0, 96 // 8)  # vertical stripes, 12 cycles
    assert torch.allclose(out.mean(dim=(1, 2)), stripes.mean(dim=(1, 2)), atol=0.05)
    assert torch.allclose(out[1], out[0] * 0.8, atol=1e-5)  # one field for all channels: colours keep their ratio
    assert not torch.equal(spot_noise(stripes, 64, 96, gen), out)  # another draw, another start


def test_chroma_detail_is_zero_on_grey_and_sees_chroma_dots():
    import torch

    from synthlab.losses import chroma_detail

    gen = torch.Generator().manual_seed(0)
    grey = torch.rand(1, 1, 32, 32, generator=gen).expand(1, 3, 32, 32) * 2 - 1
    assert float(chroma_detail(grey)) < 1e-12 and float(chroma_detail(grey, wrap=True)) < 1e-12
    dots = grey + 0.1 * torch.randn(1, 3, 32, 32, generator=gen)
    assert float(chroma_detail(dots)) > 1e-3
    dots.requires_grad_(True)
    chroma_detail(dots).backward()  # the loss pushes the dots back towards grey
    assert float((dots.grad * (dots.detach() - grey)).sum()) > 0
