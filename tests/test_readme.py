"""The README's commands stay true: every line of a fenced block marked `bash cheap` runs, in
a scratch folder, and must exit 0 (blocks without the mark are long runs or need data)."""

import os
import re
import subprocess

import pytest
from conftest import ROOT

BLOCKS = re.findall(r"^```bash cheap\n(.*?)^```", (ROOT / "README.md").read_text(), flags=re.S | re.M)
LINES = [l.split("  #")[0].strip() for b in BLOCKS for l in b.splitlines() if l.strip() and not l.startswith("#")]


def test_the_readme_marks_some_commands_cheap():
    assert len(LINES) >= 3, "README lost its `bash cheap` blocks"


@pytest.mark.parametrize("line", LINES)
def test_readme_command_runs(tmp_path, line):
    env = dict(os.environ, WANDB_MODE="offline", WANDB_SILENT="true")
    r = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"$ {line}\n{r.stdout[-1500:]}\n{r.stderr[-1500:]}"
