import json

import numpy as np
import pytest
import torch
from conftest import TINY
from PIL import Image

from synthlab import SynthlabError
from synthlab.losses import Critic
from synthlab.run import build, run


def _task(make_cfg, extra=()):
    cfg = make_cfg(TINY + list(extra))
    return cfg, build(cfg, cfg.out_dir)


@pytest.mark.parametrize("optim", ["lbfgs", "adam"])
def test_loss_falls(make_cfg, optim):
    """The solver runs the task's loss without a Trainer (plain autograd)."""
    cfg, task = _task(make_cfg, [f"optim={optim}", "task.phases=1", "task.iterations=30", "task.evals_per_step=10"])
    task.start_phase(0)
    with torch.no_grad():
        first = float(task.loss())
    for _ in range(3):
        task.solver.spend(10, task.loss)
    assert task.solver.evals >= 30
    with torch.no_grad():
        last = float(task.loss())
    assert last < 0.5 * first, (first, last)


def test_run_writes_png_with_config_and_metrics(make_cfg, tmp_path):
    m = run(make_cfg(TINY))
    out = tmp_path / "run"
    img = Image.open(out / "texture.png")
    assert img.size == (48, 48) and img.mode == "RGB"
    assert "task:" in img.info["synthlab:config"] and "exemplar: skimage:grass" in img.info["synthlab:config"]
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["status"] == "ok" and saved["swd"] == pytest.approx(m["swd"])
    assert 0 <= saved["copy32"] <= 1 and saved["evals"] >= 12
    assert (out / "frames" / "phase1.png").exists()


def test_same_seed_same_image_other_seed_differs(make_cfg, tmp_path):
    imgs = []
    for i, seed in enumerate([5, 5, 6]):
        run(make_cfg(TINY + [f"seed={seed}"], out=tmp_path / str(i)))
        imgs.append(np.asarray(Image.open(tmp_path / str(i) / "texture.png")))
    assert np.array_equal(imgs[0], imgs[1])
    assert not np.array_equal(imgs[0], imgs[2])


def test_output_size_may_differ_from_exemplar(make_cfg, tmp_path):
    run(make_cfg(TINY + ["task.size=[56,80]"]))
    assert Image.open(tmp_path / "run" / "texture.png").size == (80, 56)


@pytest.mark.parametrize("fast", [["task.channels_last=true"],
                                  ["critic.patches.match_every=3", "critic.patches.match_dtype=bfloat16"]])
def test_fast_paths_run_and_the_loss_still_falls(make_cfg, fast):
    cfg, task = _task(make_cfg, ["critic=patches", "task.phases=1", "task.iterations=30", *fast])
    ref_cfg, ref = _task(make_cfg, ["task.phases=1", "critic=reference"])
    for t in (task, ref):
        t.start_phase(0)
    with torch.no_grad():
        first, ref_first = float(task.loss()), float(ref.loss())
    if fast[0] == "task.channels_last=true":  # the same function, another memory layout
        assert first == pytest.approx(ref_first, rel=1e-4)
    task.solver.spend(30, task.loss)
    with torch.no_grad():
        assert float(task.loss()) < 0.5 * first


def test_net_dtype_bf16_runs_the_convolutions_in_bf16_and_gives_the_same_image_twice(make_cfg, tmp_path):
    """task.net_dtype=bfloat16: the features come out in float32 for the critics, near the float32
    net's (bf16 keeps 8 bits of mantissa), and a run is repeatable; auto resolves to one of the two."""
    _, ref = _task(make_cfg, ["task.phases=1", "task.net_dtype=float32"])
    _, bf = _task(make_cfg, ["task.phases=1", "task.net_dtype=bfloat16"])
    x = torch.rand(1, 3, 48, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    a, b = ref.features(x), bf.features(x)
    for t in a:
        if t.startswith("image"):  # the input itself (pixel critic): no convolution to round
            assert torch.equal(a[t], b[t])
            continue
        assert b[t].dtype == torch.float32 and not torch.equal(a[t], b[t])
        assert float((a[t] - b[t]).norm() / a[t].norm()) < 0.05, t
    _, auto = _task(make_cfg, ["task.phases=1", "task.net_dtype=auto"])
    auto.features(x)
    assert auto.net_dtype in ("float32", "bfloat16")
    imgs = []
    for i in range(2):
        m = run(make_cfg(TINY + ["task.net_dtype=bfloat16"], out=tmp_path / str(i)))
        imgs.append(np.asarray(Image.open(tmp_path / str(i) / "texture.png")))
    assert m["net_dtype"] == "bfloat16" and np.array_equal(imgs[0], imgs[1])


@pytest.mark.parametrize("override, words", [
    ("critic.patches.match_every=0", "match_every"),
    ("critic.patches.weight=nan", "weight must be a finite number"),
    ("critic.patches.variety=-1", "variety"),
    ("critic.gram.taps=[conv9_1]", "conv9_1"),
    ("task.size=[16,16]", "too small"),
    ("task.size=[0,64]", "positive"),
    ("task.tv_weight=-1", "tv_weight"),
    ("task.iterations=[]", "lists 0 budgets for 2 phase"),
    ("task.iterations=[4]", "lists 1 budgets for 2 phase"),
    ("task.iterations=[4,0]", "integers >= 1"),
    ("critic.patches.occurrence=-0.1", "occurrence"),
    ("task.chroma_weight=-1", "chroma_weight"),
    ("task.exemplar=/no/such/file.png", "not found"),
    ("task.exemplar=skimage:moon", "skimage:grass"),
    ("critic.patches.taps=[conv7_1]", "conv7_1"),
    ("task.net_dtype=float64", "float32, bfloat16, auto"),
])
def test_bad_values_raise_one_clear_error(make_cfg, override, words):
    extra = ["critic=[patches,gram]"] if override.startswith("critic.gram") else []
    with pytest.raises(SynthlabError, match=words):
        _task(make_cfg, [*extra, override])


def test_default_is_patches_sliced_and_pixels_and_each_takes_effect(make_cfg):
    """The default critic list is Neural Patches (fp32 matching) on conv3_1/conv4_1, sliced
    Wasserstein on those and on conv1_1/conv2_1 of the image pooled by 4, and sliced
    Wasserstein on 5x5 pixel patches of the image at three scales; each term adds to the loss,
    and weight 0 switches one off entirely (both off: patches alone, to the bit, and the
    pooled taps are not computed)."""
    cfg, task = _task(make_cfg, ["task.phases=1"])
    assert list(cfg.critic) == ["patches", "sliced", "pixels"]
    assert list(cfg.critic.patches.taps) == ["conv3_1", "conv4_1"]
    assert list(cfg.critic.sliced.taps) == ["conv1_1@4", "conv2_1@4", "conv3_1", "conv4_1"]
    assert list(cfg.critic.pixels.taps) == ["image", "image@2", "image@4"] and cfg.critic.pixels.patch == 5
    assert cfg.critic.patches.match_dtype == "float32" and cfg.critic.sliced.weight == 300
    assert task.taps == ["conv3_1", "conv4_1", "conv1_1@4", "conv2_1@4", "image", "image@2", "image@4"]
    _, no_pixels = _task(make_cfg, ["task.phases=1", "critic.pixels.weight=0"])
    _, off = _task(make_cfg, ["task.phases=1", "critic.sliced.weight=0", "critic.pixels.weight=0"])
    _, alone = _task(make_cfg, ["task.phases=1", "critic=patches"])
    assert [type(c).__name__ for c in off.critics] == ["PatchCritic"] and off.taps == ["conv3_1", "conv4_1"]
    losses = []
    for t in (task, no_pixels, off, alone):
        t.start_phase(0)
        with torch.no_grad():
            losses.append(float(t.loss()))
    assert losses[0] > losses[1] > losses[2] == losses[3] > 0


def test_every_critic_switched_off_is_one_line(make_cfg):
    with pytest.raises(SynthlabError, match="at least one critic with weight > 0: e.g. critic=patches"):
        _task(make_cfg, ["critic.sliced.weight=0", "critic.patches.weight=0", "critic.pixels.weight=0"])


def test_experiment_reproduces_the_post(make_cfg):
    cfg = make_cfg(["experiment=extreme_style_machines"])
    t, n, c = cfg.task, cfg.network, cfg.critic
    assert list(c) == ["patches"] and c.patches._target_ == "synthlab.losses.PatchCritic"
    assert (t.phases, t.iterations, c.patches.weight, c.patches.variety, t.tv_weight) == (4, 10, 100.0, 0.1, 0.1)
    assert t.chroma_weight == 0.0  # the post had no colour term
    assert list(c.patches.taps) == ["conv3_1", "conv4_1"] and list(t.noise_range) == [0, 255] and t.noise == "rgb"
    assert (c.patches.match_dtype, c.patches.match_every) == ("float32", 1)
    assert t.exemplar_max_side is None and t.size is None
    assert n.activation._target_ == "torch.nn.ELU" and n.activation.alpha == 1.0
    assert n.downsampling._target_.endswith("StridedConv")
    assert n.init._target_.endswith("GlorotUniform") and n.init.bias == "zero"


class ChannelMeans(Critic):
    """A new loss written for this test: match each tapped layer's channel means."""

    calls = 0

    def set_target(self, feats):
        self.targets = {l: feats[l].mean((2, 3)).detach() for l in self.taps}

    def loss(self, feats):
        ChannelMeans.calls += 1
        return self.weight * sum(((feats[l].mean((2, 3)) - self.targets[l]) ** 2).sum() for l in self.taps)


def test_a_new_critic_is_one_class_and_one_config_file(make_cfg, tmp_path):
    """The critic seam: a class plus a YAML file in conf/critic/ (here on an extra search path),
    used by the texture task alone or beside the others, with no change to the task."""
    conf = tmp_path / "conf" / "critic"
    conf.mkdir(parents=True)
    (conf / "means.yaml").write_text(f"means:\n  _target_: {__name__}.ChannelMeans\n  taps: [conv2_1, conv3_1]\n"
                                     "  weight: 10.0\n")
    search = f"hydra.searchpath=[file://{tmp_path / 'conf'}]"
    for critics in ("means", "[patches,means]"):
        ChannelMeans.calls = 0
        m = run(make_cfg(TINY + [search, f"critic={critics}"], out=tmp_path / critics))
        assert m["status"] == "ok" and ChannelMeans.calls >= m["evals"]
        assert ("match_dtype" in m) == (critics != "means")  # the patch critic only where it was chosen
    task = build(make_cfg(TINY + [search, "critic=means"]), tmp_path)
    assert [type(c).__name__ for c in task.critics] == ["ChannelMeans"] and task.taps == ["conv2_1", "conv3_1"]


def test_a_large_output_keeps_the_exemplars_scale(make_cfg, tmp_path):
    """The exemplar cap never shrinks the features of an output asked to be large (expansion):
    a 341x256 exemplar stays at its scale for a 512x512 output, and is capped for its own size."""
    from PIL import Image

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (256, 341, 3), dtype=np.uint8)).save(tmp_path / "wide.png")
    ex = [f"task.exemplar={tmp_path / 'wide.png'}", "task.exemplar_max_side=256", "logger=none"]
    large = build(make_cfg([*ex, "task.size=[512,512]"]), tmp_path / "a")
    assert large.exemplar_scale == 1.0 and tuple(large.exemplar.shape[-2:]) == (256, 341)
    own = build(make_cfg(ex), tmp_path / "b")
    assert own.exemplar_scale == 256 / 341 and own.size == (192, 256)


def test_each_phase_spends_its_own_budget(make_cfg, tmp_path):
    """task.iterations as a list: phase i spends its own number of evaluations (a short coarse
    phase lays out large structures; the fine phase gets the rest), and metrics.json counts them."""
    m = run(make_cfg(TINY + ["task.iterations=[4,9]"]))
    assert m["evals"] == 13 and len(m["phase_seconds"]) == 2
    assert [r["phase"] for r in m["per_step"]] == [0, 0, 1, 1, 1]
