import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

ROOT = Path(__file__).resolve().parents[1]
CONF = str(ROOT / "conf")
SHARED = ROOT.parent / "shared" / "data"

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")

# a tiny but complete texture run: every phase, the real optimiser, both tapped layers
TINY = ["task.size=[48,48]", "task.exemplar_size=48", "task.phases=2", "task.iterations=6",
        "task.evals_per_step=3", "logger=none", "trainer.enable_progress_bar=false"]


@pytest.fixture
def make_cfg(tmp_path):
    """Compose the real config (as the CLI would) with overrides, writing into tmp_path."""

    def make(overrides=(), out=None):
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        out = Path(out or tmp_path / "run")
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(out)
            cfg.hydra.job.num = 0
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            cfg.out_dir = str(out)
            del cfg["hydra"]
        return cfg

    yield make
    GlobalHydra.instance().clear()


def cli(*args, cwd=None, timeout=300):
    """Run the real `synthlab` command; returns CompletedProcess."""
    env = dict(os.environ, WANDB_MODE="offline", HYDRA_FULL_ERROR="0")
    return subprocess.run([sys.executable, "-m", "synthlab", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
