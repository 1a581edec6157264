"""Each texture critic and the random multiscale network, on small real tensors."""

import pytest
import torch
from conftest import TINY, from_yaml

from synthlab import SynthlabError
from synthlab.losses import GramCritic, PatchCritic, ReferencePatchCritic, SlicedCritic, gram
from synthlab.nets import RandomMultiscaleNet, fused
from synthlab.nets.layers import GlorotUniform
from synthlab.run import build


def feats(seed, h=6, w=7, c=4, layer="a", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return {layer: torch.rand(1, c, h, w, generator=g, dtype=dtype)}


@pytest.mark.parametrize("critic", [lambda: from_yaml(GramCritic, "critic/gram", node="gram", taps=["a"], weight=3.0),
                                    lambda: from_yaml(SlicedCritic, "critic/sliced", node="sliced", taps=["a"], weight=2.0, directions=5, seed=1)],
                         ids=["gram", "sliced"])
def test_gradient_matches_finite_differences(critic):
    """Autograd's gradient of each loss agrees with central differences (double precision)."""
    c = critic()
    c.set_target(feats(0))
    x = feats(1)["a"].requires_grad_()
    assert torch.autograd.gradcheck(lambda t: c.loss({"a": t}), (x,), eps=1e-6, atol=1e-6)


def test_patch_critic_gradient_is_the_reference_gradient():
    """The fast patch loss (no unfold, pixel matching) has the straightforward one's gradient."""
    tgt, cur = feats(0, 8, 8, dtype=torch.float32), feats(1, 8, 8, dtype=torch.float32)
    grads = []
    for c in (from_yaml(PatchCritic, "critic/patches", node="patches", taps=["a"], variety=0.0, match_dtype="float32"), from_yaml(ReferencePatchCritic, "critic/reference", node="reference", taps=["a"], variety=0.0)):
        c.set_target(tgt)
        x = cur["a"].clone().requires_grad_()
        c.loss({"a": x}).backward()
        grads.append(x.grad)
    assert grads[0].abs().max() > 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_gram_is_symmetric_positive_semidefinite_and_size_independent():
    f = feats(3, 9, 11)["a"]
    g = gram(f)
    torch.testing.assert_close(g, g.t())
    assert torch.linalg.eigvalsh(g).min() > -1e-12
    torch.testing.assert_close(gram(f.repeat(1, 1, 2, 3)), g)  # a tiled image has the same Gram


def test_sliced_compares_images_of_different_sizes():
    """A 2x3 tiling holds the same feature distribution as the tile: loss ~ 0 against it, while
    another image of the tiling's size is far off; any pair of sizes gives a finite loss."""
    tile = feats(4, 5, 6)["a"]
    c = from_yaml(SlicedCritic, "critic/sliced", node="sliced", taps=["a"], directions=8, seed=0)
    c.set_target({"a": tile})
    same = float(c.loss({"a": tile.repeat(1, 1, 2, 3)}))
    other = float(c.loss(feats(5, 10, 18)))
    assert same < 1e-3 * other and other > 0
    assert torch.isfinite(c.loss(feats(6, 3, 17)))


def test_sliced_is_deterministic_by_seed_and_resamples():
    t, x = feats(0), feats(1)

    def losses(seed, resample=0, n=3):
        c = from_yaml(SlicedCritic, "critic/sliced", node="sliced", taps=["a"], directions=3, seed=seed, resample_every=resample)
        c.set_target(t)
        return [float(c.loss(x)) for _ in range(n)]

    assert losses(7) == losses(7)
    assert losses(7) != losses(8)
    fixed, fresh = losses(7), losses(7, resample=1)
    assert fixed[0] == fixed[1] == fixed[2] and fresh[0] == fixed[0] and len(set(fresh)) == 3


def test_sliced_patches_are_the_unfolded_neighbourhoods_and_see_an_arrangement():
    """patch k compares k x k neighbourhoods: a shuffle of the target's pixels keeps their
    per-position distribution (patch 1: ~0) but not their neighbourhoods (patch 3: far off);
    the gradient is autograd's through unfold (central differences agree)."""
    t = feats(2, 12, 12, c=3)["a"]
    perm = torch.randperm(144, generator=torch.Generator().manual_seed(0))
    shuffled = t.flatten(2)[..., perm].reshape(t.shape)
    c1 = from_yaml(SlicedCritic, "critic/pixels", node="pixels", taps=["a"], patch=1, directions=6)
    c3 = from_yaml(SlicedCritic, "critic/pixels", node="pixels", taps=["a"], patch=3, directions=6)
    for c in (c1, c3):
        c.set_target({"a": t})
    assert c3.reach == 1 and c1.reach == 0
    assert float(c1.loss({"a": shuffled})) < 1e-9 < 1e-3 * float(c3.loss({"a": shuffled}))
    assert float(c3.loss({"a": t})) == 0
    x = feats(1, 6, 7, c=2)["a"].requires_grad_()
    c = from_yaml(SlicedCritic, "critic/pixels", node="pixels", taps=["a"], patch=3, directions=5)
    c.set_target(feats(0, 6, 7, c=2))
    assert torch.autograd.gradcheck(lambda v: c.loss({"a": v}), (x,), eps=1e-6, atol=1e-6)


def test_every_net_taps_its_input_image_at_any_scale(make_cfg):
    """The `image` layer is the input itself (pooled at image@s), sized and checked with the
    net's own layers; a synthesis with the pixel critic added lowers the loss."""
    task = build(make_cfg(TINY + ["critic=[patches_sliced,pixels]", "task.phases=1", "task.iterations=20"]), "/nonexistent")
    x = task.exemplar[None] * 2 - 1
    f = task.net(x, ["image", "image@2", "conv3_1"])
    assert torch.equal(f["image"], x) and torch.equal(f["image@2"], torch.nn.functional.avg_pool2d(x, 2))
    assert task.net.feature_size(48, 48, "image@4") == (12, 12) and task.net.period("image@2") == 2
    task.start_phase(0)
    with torch.no_grad():
        first = float(task.loss())
    task.solver.spend(20, task.loss)
    with torch.no_grad():
        assert float(task.loss()) < 0.7 * first


@pytest.mark.skipif(fused.library("sortrows") is None, reason=f"no C++ kernel: {fused.why_not('sortrows')}")
def test_the_cpu_row_sort_gives_torchs_values_and_gradient(monkeypatch):
    """sortrows.cc sorts each row to torch.sort's values, ties, signed zeros and single-value
    rows included, and the gradient through its permutation is torch's (no ties in the rows
    the gradient is checked on: torch's unstable sort orders ties its own way); any thread
    count gives the same permutation (stable)."""
    from synthlab.losses.sliced import sort_rows

    g = torch.Generator().manual_seed(3)
    x = torch.randn(7, 300, generator=g)
    x[0, :50] = 0.0
    x[1, :20] = -0.0
    x[2] = 1.5  # one value: every pass has one digit
    x[3, ::2] = x[3, 1::2]  # pairs of equal values
    for rows in (x, x[:, :1], torch.randn(5, 4097, generator=g) * 1e4):
        assert torch.equal(sort_rows(rows), torch.sort(rows, dim=1).values)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = sort_rows(x)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, sort_rows(x))
    y, q = torch.randn(6, 500, generator=g, requires_grad=True), torch.randn(6, 500, generator=g)
    fast, = torch.autograd.grad(((sort_rows(y) - q) ** 2).sum(), y)
    with monkeypatch.context() as m:
        m.setattr(fused, "library", lambda name="rescppn": None)  # torch.sort
        slow, = torch.autograd.grad(((sort_rows(y) - q) ** 2).sum(), y)
    assert torch.equal(fast, slow)


@pytest.mark.parametrize("padding", ["valid", "circular"])
def test_multiscale_fft_is_the_direct_convolution(padding):
    """conv=fft computes the same maps as direct convolution, forward and backward."""
    x = torch.rand(1, 3, 21, 24, generator=torch.Generator().manual_seed(0))
    out = []
    for conv in ("direct", "fft", "auto"):
        net = from_yaml(RandomMultiscaleNet, "network/random_multiscale", torch.nn.ReLU, GlorotUniform(), sizes=(3, 7, 15), maps=4, conv=conv,
                                  padding=padding, seed=3)
        xi = x.clone().requires_grad_()
        y = net(xi, ["conv1"])["conv1"]
        (y * torch.linspace(0, 1, y.numel()).view_as(y)).sum().backward()
        out.append((y.detach(), xi.grad))
    h = 21 if padding == "circular" else 21 - 14
    assert out[0][0].shape == (1, 12, h, 24 - 21 + h)
    for y, g in out[1:]:
        torch.testing.assert_close(y, out[0][0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(g, out[0][1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, words", [({"sizes": (3, 4)}, "odd"), ({"maps": 0}, "maps"),
                                           ({"conv": "fast"}, "'auto', 'direct', 'fft'"),
                                           ({"padding": "same"}, "'valid', 'circular'")])
def test_multiscale_bad_settings_name_the_key(kwargs, words):
    with pytest.raises(SynthlabError, match=words):
        from_yaml(RandomMultiscaleNet, "network/random_multiscale", torch.nn.ReLU, GlorotUniform(), **kwargs)


@pytest.mark.parametrize("override, words", [
    ("critic.sliced.weight=-1", "SlicedCritic: weight must be a finite number >= 0"),
    ("critic.sliced.directions=-2", "directions must be an integer >= 0"),
    ("critic.sliced.patch=4", "patch must be an odd integer >= 1"),
    ("critic.sliced.taps=[conv5_1]", r"unknown layer\(s\) \['conv5_1'\]"),
])
def test_bad_critic_values_name_the_value(make_cfg, override, words):
    with pytest.raises(SynthlabError, match=words):
        build(make_cfg(TINY + ["critic=sliced", override]), "/nonexistent")


def test_exemplar_smaller_than_the_largest_filter_is_one_line(make_cfg, tmp_path):
    import numpy as np
    from PIL import Image

    small = tmp_path / "small.png"  # a 48 px photo (a larger output lifts the cap, never enlarges)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(small)
    cfg = make_cfg(TINY + ["network=random_multiscale", "critic=gram", "critic.gram.taps=[conv1]",
                           "network.maps=2", "task.phases=1", "task.size=[64,64]", f"task.exemplar={small}"])
    with pytest.raises(SynthlabError, match="exemplar 48x48 is too small.*largest filter 55x55"):
        build(cfg, "/nonexistent")


def test_a_scaled_tap_too_small_for_the_exemplar_is_one_line(make_cfg):
    cfg = make_cfg(TINY + ["task.phases=1", "critic.sliced.taps=[conv3_1@8]"])
    with pytest.raises(SynthlabError, match=r"output 48x48 is too small: at phase 0 \(scale 1/1\) it is 48x48, "
                                            r"6x6 for conv3_1@8, and conv3_1@8 is 1x1, but the critics need 3x3"):
        build(cfg, "/nonexistent")


def test_a_pixel_patch_larger_than_its_tap_is_one_line(make_cfg):
    cfg = make_cfg(TINY + ["critic=pixels", "task.phases=3", "task.iterations=2"])  # 48 px at 1/4: image@4 3x3 < 5x5
    with pytest.raises(SynthlabError, match=r"output 48x48 is too small: at phase 0 \(scale 1/4\) it is 12x12, "
                                            r"3x3 for image@4, and image@4 is 3x3, but the critics need 5x5"):
        build(cfg, "/nonexistent")


def test_texture_runs_with_each_critic_and_the_multiscale_net(make_cfg):
    """Every critic and the multiscale network lower the loss in a real (tiny) synthesis."""
    for extra in (["critic=sliced"], ["critic=gram"], ["critic=[patches,sliced]"], ["critic=[sliced,spectrum]"],
                  ["critic=[sliced,correlation]"],
                  ["critic.gram.taps=[conv2_1@2]", "critic=gram"],
                  ["experiment=random_multiscale", "network.sizes=[3,5,9]", "network.maps=8"]):
        cfg = make_cfg(TINY + extra + ["task.phases=1", "task.iterations=20"])
        task = build(cfg, cfg.out_dir)
        if "critic.gram.taps=[conv2_1@2]" in extra:  # the scaled tap is what the critic reads
            assert task.taps == ["conv2_1@2"] and tuple(task.features(task.exemplar[None])["conv2_1@2"].shape[-2:]) == (12, 12)
        task.start_phase(0)
        with torch.no_grad():
            first = float(task.loss())
        task.solver.spend(20, task.loss)
        with torch.no_grad():
            assert float(task.loss()) < 0.7 * first, extra


def test_guided_correspondence_is_zero_on_the_exemplar_and_its_shortlist_is_exact_when_whole():
    """Guided Correspondence: the exemplar scores ~0 against itself and noise far more; with as
    many candidates as exemplar patches the shortlisted loss is the full contextual loss written
    out directly (the paper's formula), to float precision; its gradient reaches the features."""
    from synthlab.losses import GuidedCritic

    tgt, cur = feats(0, 8, 9, c=5), feats(1, 8, 9, c=5)
    c = from_yaml(GuidedCritic, "critic/guided", node="guided", taps=["a"], candidates=42, occurrence=0.0)
    c.set_target(tgt)
    assert float(c.loss(tgt)) < 1e-3 < float(c.loss(cur))
    x = cur["a"].clone().requires_grad_()
    got = c.loss({"a": x})
    got.backward()
    assert x.grad.abs().max() > 0

    def unit_patches(f, mean):  # centred pixels over 3x their norm, 3x3 patches
        g = f - mean
        return torch.nn.functional.unfold(g / (3 * g.norm(dim=1, keepdim=True)), 3)[0].t()
    mean = tgt["a"].mean(dim=(2, 3), keepdim=True)
    d = ((1 - unit_patches(cur["a"], mean) @ unit_patches(tgt["a"], mean).t()) / 2).clamp_min(0)
    a = torch.softmax((1 - d / (d.amin(1, keepdim=True) + 1e-5)) / 0.5, dim=1)
    torch.testing.assert_close(got.detach(), -a.amax(1).log().mean(), rtol=1e-9, atol=1e-12)


def test_guided_bad_values_are_one_line():
    from synthlab.losses import GuidedCritic

    for kw, words in (({"candidates": 1}, "candidates"), ({"h": 0}, "h must be"), ({"occurrence": -1}, "occurrence")):
        with pytest.raises(SynthlabError, match=words):
            from_yaml(GuidedCritic, "critic/guided", node="guided", taps=["a"], **kw)


def test_spectrum_is_zero_on_its_target_and_its_translations_and_keeps_a_period_at_twice_the_size():
    """The spectrum critic (Liu et al. 2016): an image with the target's Fourier modulus (the
    windowed exemplar itself, rolled anywhere, any mean) scores 0 and its pixels shuffled do not; on
    a 64 px output of a 32 px exemplar of stripes (period 8), projecting noise gives the stripes'
    frequency at the output's size (8 cycles), not the exemplar's grid's (4)."""
    from synthlab.losses import SpectrumCritic
    from synthlab.losses.spectrum import windowed

    ex = feats(0, 32, 32, c=3, layer="image")
    c = from_yaml(SpectrumCritic, "critic/spectrum", node="spectrum")
    c.set_target(ex)
    x = windowed(ex["image"])
    for img in (x, x.roll((5, 11), dims=(-2, -1)) + 0.3):
        assert float(c.loss({"image": img})) < 1e-12
    shuffled = x.flatten(2)[..., torch.randperm(32 * 32)].reshape(x.shape)
    assert float(c.loss({"image": shuffled})) > 1e-3
    narrow = feats(2, 24, 40, c=3, layer="image")  # narrower and wider than the exemplar: its centre, padded
    assert 0 < float(c.loss(narrow)) < float("inf")

    stripes = torch.cos(torch.arange(32, dtype=torch.float64) * 2 * torch.pi / 8).expand(1, 3, 32, 32).clone()
    c.set_target({"image": stripes})
    img = feats(1, 64, 64, c=3, layer="image")["image"].requires_grad_()
    for _ in range(5):  # gradient steps of size 1: x <- P(x), the paper's projection
        c.loss({"image": img}).backward()
        with torch.no_grad():
            img -= img.grad * img.numel() / (2 * c.weight)
        img.grad = None
    power = torch.fft.rfft2(img.detach()).abs().sum(dim=(0, 1, 2))
    power[0] = 0
    assert int(power.argmax()) == 8


def test_spectrum_taps_only_the_image():
    from synthlab.losses import SpectrumCritic

    with pytest.raises(SynthlabError, match=r"SpectrumCritic: taps must be the image .*\['conv3_1'\]"):
        SpectrumCritic(["conv3_1"], weight=1.0)


def test_correlation_is_each_channels_autocorrelation_over_the_overlap_and_holds_a_period_at_twice_the_size():
    """The deep-correlation critic (Sendik and Cohen-Or 2017): its autocorrelation is the mean of
    f(p) f(p+d) over the positions where both lie (checked by brute force); the exemplar and its
    translations score ~0 and its positions shuffled do not; on a 64 px output of a 32 px exemplar
    of stripes (period 8) the loss pulls noise to the stripes' frequency (8 cycles)."""
    from synthlab.losses import CorrelationCritic
    from synthlab.losses.correlation import autocorrelation

    f = feats(3, 5, 6, c=2)["a"]
    r = autocorrelation(f, 2, 3)
    for dy in range(-2, 3):
        for dx in range(-3, 4):
            a = f[0, :, max(0, -dy):5 - max(0, dy), max(0, -dx):6 - max(0, dx)]
            b = f[0, :, max(0, dy):5 - max(0, -dy), max(0, dx):6 - max(0, -dx)]
            assert torch.allclose(r[:, dy + 2, dx + 3], (a * b).mean(dim=(1, 2)))

    stripes = torch.cos(torch.arange(32, dtype=torch.float64) * 2 * torch.pi / 8).expand(1, 3, 32, 32).clone()
    c = from_yaml(CorrelationCritic, "critic/correlation", node="correlation", taps=["image"])
    c.set_target({"image": stripes})
    for img in (stripes, stripes.roll(3, dims=-1)):
        assert float(c.loss({"image": img})) < 1e-8
    shuffled = stripes.flatten(2)[..., torch.randperm(32 * 32, generator=torch.Generator().manual_seed(0))]
    assert float(c.loss({"image": shuffled.reshape(stripes.shape)})) > 1e-2 * c.weight
    assert 0 < float(c.loss(feats(2, 12, 40, c=3, layer="image"))) < float("inf")  # smaller than the window

    img = (0.1 * feats(1, 64, 64, c=3, layer="image")["image"]).requires_grad_()
    opt = torch.optim.LBFGS([img], max_iter=40, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = c.loss({"image": img})
        loss.backward()
        return loss
    opt.step(closure)
    power = torch.fft.rfft2(img.detach() - img.detach().mean()).abs().sum(dim=(0, 1, 2))
    assert int(power.argmax()) == 8


def test_correlation_bad_values_are_one_line():
    from synthlab.losses import CorrelationCritic

    with pytest.raises(SynthlabError, match=r"CorrelationCritic: span must be a fraction .* in \(0, 1\), got 1.5"):
        CorrelationCritic(["conv3_1"], weight=1.0, span=1.5)
    c = CorrelationCritic(["fc7"], weight=1.0, span=0.5)
    with pytest.raises(SynthlabError, match="CorrelationCritic: tap fc7 is not a feature map"):
        c.set_target({"fc7": torch.ones(1, 8)})
