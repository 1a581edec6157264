from collections import OrderedDict

import pytest
import torch
from conftest import from_yaml

from synthlab import SynthlabError
from synthlab.nets import vgg as V
from synthlab.nets.layers import GlorotUniform
from synthlab.run import build, run

FAST = ["logger=none", "trainer.enable_progress_bar=false"]


def torchvision_vgg19_state(seed=0):
    """The keys and shapes of torchvision.models.vgg19().state_dict(), written out by hand."""
    g = torch.Generator().manual_seed(seed)
    convs = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    chans = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256)] + [(256, 256)] * 3 + [(256, 512)] + \
            [(512, 512)] * 7
    sd = OrderedDict()
    for i, (a, b) in zip(convs, chans):
        sd[f"features.{i}.weight"] = torch.randn(b, a, 3, 3, generator=g) * 0.01
        sd[f"features.{i}.bias"] = torch.zeros(b)
    for i, (a, b) in zip([0, 3, 6], [(25088, 4096), (4096, 4096), (4096, 1000)]):
        sd[f"classifier.{i}.weight"] = torch.randn(b, a, generator=g) * 0.01
        sd[f"classifier.{i}.bias"] = torch.zeros(b)
    return sd


def _vgg(weights="random"):
    return from_yaml(V.VGG19, "network/vgg19", torch.nn.ReLU, GlorotUniform(), weights=weights)


def test_torchvision_state_dict_loads_exactly(tmp_path):
    sd = torchvision_vgg19_state()
    torch.save(sd, tmp_path / "vgg19.pth")
    net = _vgg(str(tmp_path / "vgg19.pth"))
    assert list(net.state_dict()) == list(sd)
    assert torch.equal(net.state_dict()["classifier.6.weight"], sd["classifier.6.weight"])


@pytest.mark.parametrize("edit, words", [
    (lambda sd: sd.pop("features.34.weight"), "'features.34.weight' is missing"),
    (lambda sd: sd.__setitem__("extra.weight", torch.zeros(1)), "'extra.weight' is not in this config"),
    (lambda sd: sd.__setitem__("classifier.6.weight", torch.zeros(10, 4096)), "'classifier.6.weight' has shape (10, 4096)"),
])
def test_wrong_state_dicts_are_refused_naming_the_key(tmp_path, edit, words):
    sd = torchvision_vgg19_state()
    edit(sd)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(SynthlabError, match="does not fit this config") as e:
        _vgg(str(tmp_path / "bad.pth"))
    assert words in str(e.value)


def test_truncated_or_foreign_weight_files_are_named(tmp_path):
    torch.save(torchvision_vgg19_state(), tmp_path / "w.pth")
    (tmp_path / "t.pth").write_bytes((tmp_path / "w.pth").read_bytes()[:5000])
    with pytest.raises(SynthlabError, match="cannot read weights .*t.pth"):
        _vgg(str(tmp_path / "t.pth"))
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(SynthlabError, match="not a state dict"):
        _vgg(str(tmp_path / "list.pth"))
    with pytest.raises(SynthlabError, match="not found"):
        _vgg(str(tmp_path / "none.pth"))


def test_imagenet_offline_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(V, "IMAGENET_URL", "https://127.0.0.1/models/vgg19-dcbb9e9d.pth")  # refused at once
    with pytest.raises(SynthlabError) as e:
        _vgg("imagenet")
    msg = str(e.value)
    assert "vgg19-dcbb9e9d.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg
    bad = tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not the weights")
    with pytest.raises(SynthlabError, match="corrupt"):
        _vgg("imagenet")


@pytest.mark.parametrize("hw", [(224, 224), (96, 160), (33, 47)])
def test_any_size_reaches_the_fc_layers(hw):
    out = _vgg()(torch.rand(1, 3, *hw), ["relu5_1", "fc6", "fc7", "relu7", "fc8"])
    assert out["fc7"].shape == (1, 4096) and out["fc8"].shape == (1, 1000)
    assert (out["relu7"] >= 0).all()


def test_pool_options_and_taps():
    net = from_yaml(V.VGG19, "network/vgg19", torch.nn.ReLU, GlorotUniform(), weights="random", pool="avg", fc_pool="avg")
    assert isinstance(net.features[4], torch.nn.AvgPool2d) and isinstance(net.avgpool, torch.nn.AdaptiveAvgPool2d)
    with pytest.raises(SynthlabError, match="relu9_9"):
        net(torch.rand(1, 3, 64, 64), ["relu9_9"])


def test_fc_style_run_any_size_losses_fall(make_cfg, tmp_path):
    m = run(make_cfg(["task=fc_style", "network.weights=random", "task.size=[48,80]", "task.iterations=12",
                      "task.evals_per_step=4", "critic.content.weight=1e6", *FAST]))
    assert m["weights"] == "random (untrained) VGG19" and m["size"] == [48, 80]
    assert m["final_loss"] < m["first_loss"]
    from PIL import Image

    img = Image.open(tmp_path / "run" / "fc_style.png")
    assert img.size == (80, 48) and "untrained" in img.info["synthlab:weights"]


def test_fc_style_bad_input(make_cfg, tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    for override, words in [("task.size=[24,24]", "at least 32"), (f"task.content={tmp_path}/x.txt", "cannot read image"),
                            ("critic.content.taps=[fc9]", "fc9"), ("task.init=photo", "noise or content"),
                            ("critic.gram.layer_weights=[1,2]", "2 values for 5 taps")]:
        cfg = make_cfg(["task=fc_style", "network.weights=random", override, *FAST])
        with pytest.raises(SynthlabError, match=words):
            build(cfg, tmp_path)


def test_imagenet_file_in_the_hub_cache_is_hash_checked_and_loaded(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    sd = torchvision_vgg19_state(seed=3)
    f = tmp_path / "w.pth"
    torch.save(sd, f)
    prefix = hashlib.sha256(f.read_bytes()).hexdigest()[:8]
    dst = tmp_path / "hub" / "checkpoints" / f"vgg19-{prefix}.pth"
    dst.parent.mkdir(parents=True)
    f.rename(dst)
    monkeypatch.setattr(V, "IMAGENET_URL", f"https://127.0.0.1/models/vgg19-{prefix}.pth")
    net = _vgg("imagenet")
    assert torch.equal(net.state_dict()["features.0.weight"], sd["features.0.weight"])


def test_weights_with_nan_are_refused_naming_a_tensor(tmp_path):
    sd = {k: v.clone() for k, v in _vgg("random").state_dict().items()}
    sd["features.0.weight"][0, 0, 0, 0] = float("nan")
    torch.save(sd, tmp_path / "nan.pth")
    with pytest.raises(SynthlabError, match="holds NaN or infinite values in 1 tensor\\(s\\), e.g. 'features.0.weight'"):
        _vgg(str(tmp_path / "nan.pth"))
