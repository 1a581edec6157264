import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf, open_dict

from synthlab.config import CONF, compose  # noqa: F401  (CONF: tests read conf/ through it)

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# a tiny but complete texture run: every phase, the real optimiser, both tapped layers
TINY = ["task.size=[48,48]", "task.exemplar_max_side=48", "task.phases=2", "task.iterations=6",
        "task.evals_per_step=3", "logger=none", "trainer.enable_progress_bar=false"]


def from_yaml(cls, name: str, *args, node: str | None = None, **kw):
    """cls built as conf/<name>.yaml (its `node`, for critic files) builds it, with kw on top:
    a test that builds one piece directly gets the values a user gets, never a second copy
    of them (seed: 0; nested groups such as activation are passed in args)."""
    cfg = OmegaConf.load(Path(CONF) / f"{name}.yaml")
    cfg = cfg[node] if node else cfg
    plain = {}
    for k in cfg:
        if k == "defaults" or str(k).startswith("_") or k in kw:
            continue
        if OmegaConf.is_interpolation(cfg, k):
            plain[k] = 0 if k == "seed" else None
        elif OmegaConf.is_list(cfg[k]):
            plain[k] = OmegaConf.to_container(cfg[k])
        elif not OmegaConf.is_config(cfg[k]):  # a nested node sets a group's values: not ours
            plain[k] = cfg[k]
    return cls(*args, **{**plain, **kw})


def z_blocks_drawn(net, seed=5):
    """A ResidualCPPN's network.z_blocks weights start at zero (the post's net at init); drawn,
    so a test sees them act."""
    with torch.no_grad():
        net.z_block.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed))
    return net


@pytest.fixture
def make_cfg(tmp_path):
    """Compose the real config (as the CLI would) with overrides, writing into tmp_path."""

    def make(overrides=(), out=None):
        cfg = compose(overrides, hydra=True)
        out = Path(out or tmp_path / "run")
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.out_dir = str(out)
            del cfg["hydra"]
        return cfg

    return make


def write_mnist(root: Path, n: int = 600, seed: int = 0) -> Path:
    """A small MNIST stand-in in the official IDX layout (t10k files, raw): class c is a bright
    bar at a class-specific place plus noise, so a classifier can learn it. The tests need no
    download and no data from outside the repository."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n, dtype=np.uint8) % 10
    imgs = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        r = 3 + 2 * int(c)
        imgs[i, r:r + 3, 4:24] = 255
    root.mkdir(parents=True, exist_ok=True)
    head = bytes([0, 0, 8, 3]) + b"".join(int(v).to_bytes(4, "big") for v in imgs.shape)
    (root / "t10k-images-idx3-ubyte").write_bytes(head + imgs.tobytes())
    (root / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes())
    return root


@pytest.fixture(scope="session")
def mnist(tmp_path_factory) -> Path:
    return write_mnist(tmp_path_factory.mktemp("data") / "mnist")


def cli(*args, cwd=None, timeout=300):
    """Run the real `synthlab` command; returns CompletedProcess."""
    env = dict(os.environ, WANDB_MODE="offline", HYDRA_FULL_ERROR="0")
    return subprocess.run([sys.executable, "-m", "synthlab", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


_forked = []


def fcli(*args, cwd=None, timeout=300):
    """Like cli, each call a process forked from one that imported synthlab once (forkcli.py):
    the same command at a fraction of the start-up. Without fork (not POSIX): cli itself."""
    if not hasattr(os, "fork"):
        return cli(*args, cwd=cwd, timeout=timeout)
    if not _forked:
        import atexit
        import shutil
        import tempfile

        from forkcli import ForkedCli

        tmp = Path(tempfile.mkdtemp(prefix="synthlab-forked-"))
        _forked.append(ForkedCli(tmp))
        atexit.register(lambda: (_forked[0].close(), shutil.rmtree(tmp, ignore_errors=True)))
    return _forked[0](*args, cwd=cwd, timeout=timeout)
