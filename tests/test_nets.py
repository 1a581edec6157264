import math

import pytest
import torch
from conftest import from_yaml
from hydra.utils import instantiate

from synthlab import SynthlabError
from synthlab.nets import RandomConvNet
from synthlab.nets.layers import GlorotUniform, Normal, Orthogonal, PoolConv, StridedConv, TorchDefault, Uniform

ACTS = ["relu", "lrelu", "elu", "tanh", "sigmoid", "softplus", "sin", "gelu"]
DOWNS = ["avgpool", "maxpool", "strided"]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("down", DOWNS)
def test_feature_shapes_every_activation_and_downsampling(make_cfg, act, down):
    cfg = make_cfg([f"network/activation={act}", f"network/downsampling={down}"])
    net = instantiate(cfg.network)
    taps = ["conv1_1", "conv2_1", "conv3_1", "conv4_1"]
    feats = net(torch.rand(1, 3, 37, 50), taps)
    sizes = {"conv1_1": (48, 37, 50), "conv2_1": (80, 18, 25), "conv3_1": (112, 9, 12), "conv4_1": (176, 4, 6)}
    for t in taps:
        assert tuple(feats[t].shape[1:]) == sizes[t]
        assert net.feature_size(37, 50, t) == sizes[t][1:]
        assert torch.isfinite(feats[t]).all()


def test_units_depth_and_names(make_cfg):
    net = instantiate(make_cfg(["network.units=0.5", "network.depth=2"]).network)
    # stage 1: 2x2 3x3 convs; later stages: down + (n-1)*2 convs
    assert net.names == ["conv1_1", "conv1_2", "conv1_3", "conv1_4", "conv2_1", "conv2_2", "conv2_3",
                         "conv3_1", "conv3_2", "conv3_3", "conv3_4", "conv3_5",
                         "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv4_5"]
    assert net(torch.rand(1, 3, 32, 32), ["conv3_1"])["conv3_1"].shape[1] == 56
    assert not any(p.requires_grad for p in net.parameters())


def test_same_seed_same_weights_other_seed_differs(make_cfg):
    a = instantiate(make_cfg(["seed=3"]).network)
    b = instantiate(make_cfg(["seed=3"]).network)
    c = instantiate(make_cfg(["seed=4"]).network)
    for (k, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), k
    assert not torch.equal(a.layers["conv1_1"][0].weight, c.layers["conv1_1"][0].weight)


def test_initialisers_draw_the_documented_distributions():
    gen = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(64, 128, 3)
    GlorotUniform()(conv, gen)
    bound = math.sqrt(6 / ((64 + 128) * 9))
    assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > 0.95 * bound
    assert torch.all(conv.bias == 0)
    Normal(std=2.0, bias="same")(conv, gen)
    assert abs(conv.weight.std().item() - 2.0) < 0.05 and conv.bias.abs().sum() > 0
    Uniform(bound=3.0)(conv, gen)
    assert conv.weight.abs().max() <= 3.0 and conv.weight.abs().max() > 2.9
    lin = torch.nn.Linear(32, 32)
    Orthogonal()(lin, gen)
    assert torch.allclose(lin.weight @ lin.weight.t(), torch.eye(32), atol=1e-5)
    TorchDefault(bias="same")(lin, gen)  # pytorch's kaiming-uniform bound 1/sqrt(fan_in)
    assert lin.weight.abs().max() <= 1 / math.sqrt(32)


def test_bad_network_values_are_named():
    act = torch.nn.ELU
    with pytest.raises(SynthlabError, match="units"):
        from_yaml(RandomConvNet, "network/random_conv", act, StridedConv, GlorotUniform(), units=0)
    with pytest.raises(SynthlabError, match="depth"):
        from_yaml(RandomConvNet, "network/random_conv", act, StridedConv, GlorotUniform(), depth=0)
    with pytest.raises(SynthlabError, match="pool"):
        PoolConv(3, 4, pool="median")
    with pytest.raises(SynthlabError, match="bias"):
        GlorotUniform(bias="same")
    net = from_yaml(RandomConvNet, "network/random_conv", act, StridedConv, GlorotUniform())
    with pytest.raises(SynthlabError, match="conv9_1"):
        net(torch.rand(1, 3, 32, 32), ["conv9_1"])


def test_taps_at_a_coarser_scale_are_the_layer_on_the_pooled_image(make_cfg):
    """`conv3_1@4` is conv3_1 of the image average-pooled by 4, for every feature net; the
    net runs once per scale whatever the taps, and its sizes say so."""
    import torch.nn.functional as F

    from synthlab.nets import RandomMultiscaleNet
    from synthlab.nets.vgg import VGG19

    x = torch.rand(1, 3, 70, 90, generator=torch.Generator().manual_seed(0))
    nets = [(instantiate(make_cfg([]).network), "conv3_1", (112, 4, 5)),
            (from_yaml(RandomMultiscaleNet, "network/random_multiscale", torch.nn.ReLU, GlorotUniform(), sizes=(3, 5), maps=2), "conv1", (4, 17, 22)),
            (from_yaml(VGG19, "network/vgg19", torch.nn.ReLU, GlorotUniform(), weights="random", seed=1), "relu2_1", (128, 8, 11))]
    for net, layer, shape in nets:
        f = net(x, [layer, f"{layer}@4"])
        want = net(F.avg_pool2d(x, 4), [layer])[layer]
        assert torch.equal(f[f"{layer}@4"], want), layer
        assert tuple(want.shape[1:]) == shape and net.feature_size(70, 90, f"{layer}@4") == shape[1:]
        assert net.input_size(70, 90, f"{layer}@4") == (17, 22)
        assert torch.equal(f[layer], net(x, [layer])[layer])


@pytest.mark.parametrize("tap, words", [("conv3_1@3", r"scale after @ must be one of \[1, 2, 4, 8, 16, 32\]"),
                                        ("conv3_1@x", "scale after @"), ("conv3_1@", "scale after @"),
                                        ("conv9_1@2", r"unknown layer\(s\) \['conv9_1@2'\] of network=random_conv; "
                                                      r"its layers are \['conv1_1'.*coarser scale")])
def test_bad_taps_are_one_line_naming_the_valid_ones(make_cfg, tap, words):
    net = instantiate(make_cfg([]).network)
    with pytest.raises(SynthlabError, match=words):
        net(torch.rand(1, 3, 32, 32), [tap])
