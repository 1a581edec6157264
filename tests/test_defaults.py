"""YAML is the only source of defaults: every option of every group, composed as a user would,
sets every parameter of each synthlab class it instantiates. A parameter the YAML leaves out
would silently take a Python default that nobody sees in `--cfg job`, W&B or the report."""

import importlib
import inspect

import pytest
from conftest import compose
from omegaconf import DictConfig, ListConfig, OmegaConf
from test_configs import GROUPS, _overrides, options

# given by the code that instantiates, never by the YAML
PASSED_AT_BUILD = {"out_dir", "logger", "plugins", "callbacks"}


def targets(node, path="") -> list:
    """(path, node) of every `_target_` node of ours below node."""
    found = []
    if isinstance(node, DictConfig):
        t = node.get("_target_") if "_target_" in node else None
        if isinstance(t, str) and t.startswith("synthlab."):
            found.append((path or "<root>", node))
        for k in node.keys():
            if not str(k).startswith("hydra") and not OmegaConf.is_missing(node, k) \
                    and not OmegaConf.is_interpolation(node, k):  # task.net: ${network} is walked once
                found += targets(node[k], f"{path}.{k}".lstrip("."))
    elif isinstance(node, ListConfig):
        for i, v in enumerate(node):
            found += targets(v, f"{path}[{i}]")
    return found


def defaults(cls) -> dict:
    """The parameters with a Python default of cls's own __init__ (and of the synthlab base
    classes it hands **kwargs to); a class whose __init__ is a library's is not ours to pin."""
    out = {}
    for c in cls.__mro__:
        init = c.__dict__.get("__init__")
        if init is None:
            continue
        if not c.__module__.startswith("synthlab."):
            break
        params = inspect.signature(init).parameters.values()
        out.update({p.name: p.default for p in params if p.default is not p.empty and p.name not in out})
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return out


def unset(node) -> list:
    """The parameters of node's class that would fall back to a Python default."""
    module, _, name = node._target_.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    return [k for k in defaults(cls) if k not in PASSED_AT_BUILD and k not in node]


@pytest.mark.parametrize("group, option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_class_a_config_builds_gets_every_parameter_from_yaml(group, option, tmp_path):
    cfg = compose(_overrides(group, option, tmp_path), hydra=True)
    missing = {path: names for path, node in targets(cfg) if (names := unset(node))}
    assert not missing, f"{group}={option}: parameters left to Python defaults: {missing}"


def test_the_walk_finds_the_nested_targets():
    cfg = compose([], hydra=True)
    paths = [p for p, _ in targets(cfg)]
    assert {"task", "network", "network.downsampling", "network.init"} <= set(paths) and \
        any(p.startswith("critic.") for p in paths)
