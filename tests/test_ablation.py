"""`synthlab report DIR --over KEY` answers an ablation's question: which value of KEY is best,
averaged over the other axes and seeds, and is the difference bigger than seed noise?"""

import numpy as np
from conftest import cli

from synthlab.io import write_json
from synthlab.report import ablation


def runs(effect: dict, noise: float, seeds=(0, 1, 2), rng=None):
    """Runs over act x down x seed whose swd is a known effect of act plus seed noise."""
    rng = rng or np.random.default_rng(0)
    out = []
    for act, shift in effect.items():
        for down, base in (("avg", 100.0), ("max", 110.0)):
            for s in seeds:
                out.append({"status": "ok", "swd": base + shift + noise * rng.standard_normal(), "dir": f"{act}{down}{s}",
                            "overrides": [f"act={act}", f"down={down}", f"seed={s}", "logger=none"]})
    return out


def verdicts(text: str) -> dict:
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    return {r[1].strip(): r[-2].strip() for r in rows}


def test_a_real_difference_is_significant_and_seed_noise_is_not():
    v = verdicts(ablation(runs({"elu": 0.0, "relu": 20.0, "tanh": 0.3}, noise=1.0), "act"))
    assert v["elu"] == "best" or v["tanh"] == "best"
    assert v["relu"].startswith("yes (")
    assert v["tanh" if v["elu"] == "best" else "elu"].startswith("no (within seed noise")


def test_one_seed_gives_no_verdict_and_says_why():
    text = ablation(runs({"elu": 0.0, "relu": 20.0}, noise=1.0, seeds=(0,)), "act")
    assert verdicts(text)["relu"] == "? (one seed: no noise estimate)"
    assert text.strip().splitlines()[-1] == "one run per setting: no seed noise estimate"


def test_report_over_a_key_that_is_not_swept_is_one_line(tmp_path):
    for r in runs({"elu": 0.0, "relu": 5.0}, noise=1.0, seeds=(0, 1)):
        d = tmp_path / r["dir"]
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in r["overrides"]))
        write_json(d / "metrics.json", {k: v for k, v in r.items() if k not in ("dir", "overrides")})
    r = cli("report", str(tmp_path), "--over", "task.exemplar")
    assert r.returncode == 2 and r.stdout == "" and r.stderr.strip().splitlines() == [
        f"synthlab: error: task.exemplar is not swept in {tmp_path}: its swept keys are act, down, seed"]
    r = cli("report", str(tmp_path), "--over", "act")
    assert r.returncode == 0 and "| act | n | swd mean ± sd |" in r.stdout and "| relu | 4 |" in r.stdout
