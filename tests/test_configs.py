from pathlib import Path

import pytest
import torch
from conftest import CONF

from synthlab import SynthlabError
from synthlab.config import instantiate
from synthlab.nets import RandomConvNet
from synthlab.run import build
from synthlab.tasks.base import Task

GROUPS = ["network", "network/activation", "network/downsampling", "network/init", "optim", "critic", "data",
          "logger", "trainer", "task", "experiment", "sweep"]


def options(group):
    return sorted(p.stem for p in (Path(CONF) / group).glob("*.yaml"))


def _overrides(group, option, mnist):
    data = [f"data.root={mnist}", "data.download=false"]
    if group == "network" and option != "random_conv":  # a network needs a task that uses it
        task = {"cppn": "task=cppn", "resnet_cppn": "task=gan", "conv_cppn": "task=conv_cppn",
                "vgg19": "task=fc_style", "random_multiscale": "experiment=random_multiscale"}[option]
        return [task, f"network={option}"] + (["network.weights=random"] if option == "vgg19" else []) \
            + (data if option == "resnet_cppn" else [])
    if (group, option) in (("task", "fc_style"), ("sweep", "fc_style_content")):
        return [f"{group}={option}", "network.weights=random"]  # never download ImageNet weights in tests
    if (group, option) in (("task", "gan"), ("task", "mnist_classifier"), ("data", "mnist"),
                           ("experiment", "cppn_gan_vae"), ("experiment", "resnet_cppn_gan"),
                           ("sweep", "gan_width_epochs")):
        return [f"{group}={option}"] + (["task=gan"] if group == "data" else []) + data
    if group == "critic" and option == "content":  # a content critic needs a content image: fc_style's
        return ["task=fc_style", "network.weights=random", "critic=[content,gram]"]
    return [f"{group}={option}"]


@pytest.mark.parametrize("group, option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_group_option_composes_and_builds(make_cfg, tmp_path, mnist, group, option):
    """Through run.build, as the CLI builds: the task and its network, optimiser, critics, data."""
    cfg = make_cfg(_overrides(group, option, mnist))
    if cfg.task.name == "gan_sample":  # needs a trained checkpoint: says so in one line
        with pytest.raises(SynthlabError, match="task.checkpoint must be set"):
            build(cfg, tmp_path)
        return
    task = build(cfg, tmp_path)
    assert isinstance(task, Task) and task.out_dir == tmp_path
    net = getattr(task, "net", None)
    if isinstance(net, RandomConvNet):
        assert net(torch.rand(1, 3, 32, 32), ["conv3_1"])["conv3_1"].shape[1] > 0
    if cfg.get("optim"):
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
    assert options("network") == ["conv_cppn", "cppn", "random_conv", "random_multiscale", "resnet_cppn", "vgg19"]
    assert options("optim") == ["adam", "lbfgs"]
    assert options("critic") == ["content", "correlation", "gram", "guided", "patches", "patches_sliced", "pixels",
                                  "reference", "sliced", "spectrum"]
    assert options("data") == ["mnist"]
    assert options("logger") == ["csv", "none", "tensorboard", "wandb"]
    assert options("trainer") == ["cpu", "gpu"]


def test_a_task_file_can_set_trainer_network_and_optim(make_cfg):
    cfg = make_cfg(["task=gan"])
    assert cfg.trainer.max_epochs == 15 and cfg.trainer.enable_checkpointing is True
    assert cfg.network._target_.endswith("ResidualCPPN") and cfg.data.batch_size == 200
    assert cfg.optim._target_ == "torch.optim.Adam" and cfg.optim.lr == 0.005 and list(cfg.optim.betas) == [0.75, 0.999]
    assert make_cfg(["task=gan", "trainer.max_epochs=2"]).trainer.max_epochs == 2  # the CLI still wins
    assert make_cfg(["task=gan", "optim.lr=0.01"]).optim.lr == 0.01
    tex = make_cfg(["task=texture"])  # README "Time": the fine phase converges by 80 with the pixel term
    assert list(tex.task.iterations) == [15, 80] and list(tex.critic) == ["patches", "sliced", "pixels"]
