import json

import numpy as np
import pytest
import torch

from PIL import Image

from synthlab import SynthlabError
from synthlab.run import instantiate, run
from conftest import TINY


def _task(make_cfg, extra=()):
    cfg = make_cfg(TINY + list(extra))
    return cfg, instantiate(cfg.task, net=instantiate(cfg.network), optim=instantiate(cfg.optim))


@pytest.mark.parametrize("optim", ["lbfgs", "adam"])
def test_loss_falls(make_cfg, optim):
    cfg, task = _task(make_cfg, [f"optim={optim}", "task.phases=1", "task.iterations=30", "task.evals_per_step=10"])
    task.manual_backward = lambda loss: loss.backward()  # outside a Trainer
    task.start_phase(0)
    with torch.no_grad():
        first = float(task.loss())
    for _ in range(3):
        task.run_evals(10)
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


@pytest.mark.parametrize("fast", [["task.channels_last=true"], ["task.match_every=3", "task.match_dtype=bfloat16"]])
def test_fast_paths_run_and_the_loss_still_falls(make_cfg, fast):
    cfg, task = _task(make_cfg, ["task.phases=1", "task.iterations=30", *fast])
    ref_cfg, ref = _task(make_cfg, ["task.phases=1", "task.critic=reference"])
    for t in (task, ref):
        t.manual_backward = lambda loss: loss.backward()
        t.start_phase(0)
    with torch.no_grad():
        first, ref_first = float(task.loss()), float(ref.loss())
    if fast[0] == "task.channels_last=true":  # the same function, another memory layout
        assert first == pytest.approx(ref_first, rel=1e-4)
    task.run_evals(30)
    with torch.no_grad():
        assert float(task.loss()) < 0.5 * first


@pytest.mark.parametrize("override, words", [
    ("task.critic=fast", "patches, reference"),
    ("task.match_every=0", "match_every"),
    ("task.size=[16,16]", "too small"),
    ("task.size=[0,64]", "positive"),
    ("task.style_weight=0", "style_weight"),
    ("task.smoothness=-1", "smoothness"),
    ("task.exemplar=/no/such/file.png", "not found"),
    ("task.exemplar=skimage:moon", "skimage:grass"),
    ("task.layers=[conv7_1]", "conv7_1"),
])
def test_bad_values_raise_one_clear_error(make_cfg, override, words):
    with pytest.raises(SynthlabError, match=words):
        _task(make_cfg, [override])


def test_experiment_reproduces_the_post(make_cfg):
    cfg = make_cfg(["experiment=extreme_style_machines"])
    t, n = cfg.task, cfg.network
    assert (t.phases, t.iterations, t.style_weight, t.variety, t.smoothness) == (4, 10, 100.0, 0.1, 0.1)
    assert list(t.layers) == ["conv3_1", "conv4_1"]
    assert n.activation._target_ == "torch.nn.ELU" and n.activation.alpha == 1.0
    assert n.downsampling._target_.endswith("StridedConv")
    assert n.init._target_.endswith("GlorotUniform") and n.init.bias == "zero"
