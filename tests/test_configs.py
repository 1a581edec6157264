from pathlib import Path

import pytest
import torch
import inspect

from hydra.utils import get_class

from synthlab import SynthlabError
from synthlab.nets import RandomConvNet
from synthlab.run import instantiate

from conftest import CONF

GROUPS = ["network", "network/activation", "network/downsampling", "network/init", "optim", "logger",
          "trainer", "task", "experiment", "sweep"]


def options(group):
    return sorted(p.stem for p in (Path(CONF) / group).glob("*.yaml"))


def _overrides(group, option):
    if group == "network" and option != "random_conv":  # a network needs a task that uses it
        task = {"cppn": "task=cppn", "resnet_cppn": "task=cppn", "conv_cppn": "task=conv_cppn",
                "vgg19": "task=fc_style"}[option]
        return [task, f"network={option}"] + (["network.weights=random"] if option == "vgg19" else [])
    if (group, option) in (("task", "fc_style"), ("sweep", "fc_style_content")):
        return [f"{group}={option}", "network.weights=random"]  # never download ImageNet weights in tests
    if group == "network/downsampling" or (group == "network/init" and option in ("glorot_uniform", "orthogonal", "msra")):
        return [f"{group}={option}"]  # texture net (the CPPN draws biases like weights)
    return [f"{group}={option}"]


@pytest.mark.parametrize("group, option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes_and_builds(make_cfg, group, option):
    cfg = make_cfg(_overrides(group, option))
    if (group, option) == ("task", "gan_sample"):  # needs a trained checkpoint: says so in one line
        with pytest.raises(SynthlabError, match="task.checkpoint must be set"):
            instantiate(cfg.task)
        return
    params = inspect.signature(get_class(cfg.task._target_)).parameters
    net = instantiate(cfg.network)
    if isinstance(net, RandomConvNet):
        assert net(torch.rand(1, 3, 32, 32), ["conv3_1"])["conv3_1"].shape[1] > 0
    kw = {"net": net} if "net" in params else {}
    if "optim" in params:
        kw["optim"] = instantiate(cfg.optim)
    assert instantiate(cfg.task, **kw) is not None
    opt = instantiate(cfg.optim)([torch.nn.Parameter(torch.zeros(2))])
    assert isinstance(opt, torch.optim.Optimizer)
    if cfg.logger and "_target_" in cfg.logger:
        assert instantiate(cfg.logger) is not None  # W&B starts its run lazily: nothing opens here
    if group == "trainer" and option == "gpu" and not torch.cuda.is_available():
        return
    assert instantiate(cfg.trainer, logger=False).max_epochs >= 1


def test_groups_have_the_promised_options():
    assert options("network/activation") == sorted(
        ["relu", "lrelu", "elu", "tanh", "sigmoid", "softplus", "sin", "gelu"])
    assert options("network/downsampling") == ["avgpool", "maxpool", "strided"]
    assert options("network/init") == sorted(["glorot_uniform", "orthogonal", "normal", "uniform", "torch_default", "msra"])
    assert options("network") == ["conv_cppn", "cppn", "random_conv", "resnet_cppn", "vgg19"]
    assert options("optim") == ["adam", "lbfgs"]
    assert options("logger") == ["csv", "none", "tensorboard", "wandb"]
    assert options("trainer") == ["cpu", "gpu"]


def test_a_task_file_can_set_trainer_and_network(make_cfg):
    cfg = make_cfg(["task=gan"])
    assert cfg.trainer.max_epochs == 6 and cfg.trainer.enable_checkpointing is True
    assert cfg.network._target_.endswith("ResidualCPPN")
    assert make_cfg(["task=gan", "trainer.max_epochs=2"]).trainer.max_epochs == 2  # the CLI still wins
