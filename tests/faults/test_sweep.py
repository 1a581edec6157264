"""Fault suite, sweeps: a job that raises does not stop the others; the rerun skips what
finished; the report lists the failure with its one-line reason."""

import os
from pathlib import Path

from conftest import TINY, cli, fcli


def test_failing_job_is_recorded_others_finish_and_rerun_skips_finished(tmp_path):
    from PIL import Image

    sweep = f"hydra.sweep.dir={tmp_path}/sweep"
    # the second exemplar is one flat colour (found only when its job builds the task): that
    # job fails, the first and third still run
    Image.new("RGB", (64, 64), (90, 90, 90)).save(tmp_path / "flat.png")
    ex = f"task.exemplar=skimage:grass,{tmp_path / 'flat.png'},skimage:brick"
    r = fcli("-m", *TINY, ex, sweep, cwd=tmp_path)
    done = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    failed = list((tmp_path / "sweep").glob("*/error.txt"))
    assert len(done) == 2 and len(failed) == 1 and "one flat colour" in failed[0].read_text()
    # a sweep with a failed job fails, and says which
    assert r.returncode == 1, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == f"synthlab: 1 of 3 jobs failed (see {failed[0].parent})"
    stamps = {p: p.stat().st_mtime_ns for p in done}
    r = fcli("-m", *TINY, ex, sweep, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("skipping finished job") == 2
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not run again
    rep = fcli("report", str(tmp_path / "sweep"))
    assert "| failed |" in rep.stdout and "one flat colour" in rep.stdout
    page = (tmp_path / "sweep" / "report.html").read_text()
    assert page.count('class="cell run"') == 2 and "one flat colour" in page


def test_a_sweep_exits_zero_only_when_every_job_finished_or_partial_grids_are_accepted(tmp_path):
    args = ["-m", "task=cppn", "task.size=[16,16]", "logger=none", "trainer.enable_progress_bar=false"]
    r = fcli(*args, "network.width=4,8", f"hydra.sweep.dir={tmp_path}/ok", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr.strip().splitlines()[-1] == f"synthlab: all 2 jobs finished ({tmp_path}/ok)"
    # an unknown coordinate mode is found only when the job builds its task
    r = fcli(*args, "task.coords=symmetric,nope", f"hydra.sweep.dir={tmp_path}/bad", cwd=tmp_path)
    assert r.returncode == 1 and "synthlab: 1 of 2 jobs failed (see " in r.stderr.strip().splitlines()[-1]
    r = fcli(*args, "task.coords=symmetric,nope", "sweep_ok_if=any", f"hydra.sweep.dir={tmp_path}/partial", cwd=tmp_path)
    assert r.returncode == 0 and "1 of 2 jobs failed" in r.stderr
    r = fcli(*args, "network.width=4", "sweep_ok_if=some", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "synthlab: error: sweep_ok_if must be all (every job must finish) or any (a partial grid is fine), got 'some'"]


def test_a_bad_value_is_one_line_before_the_sweep_starts(tmp_path):
    """Fixed or swept, a value a rule or the network can check fails before any job: one
    line, no folder."""
    r = fcli("-m", "sweep=texture_act_down", "network.units=-1", "logger=none", f"hydra.sweep.dir={tmp_path}/n",
            cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "n").exists()
    assert r.stderr.strip().splitlines() == ["synthlab: error: network.units must be positive, got -1"]
    r = fcli("-m", "task=cppn", "network.width=16,-4", "logger=none", f"hydra.sweep.dir={tmp_path}/w", cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "w").exists()
    assert r.stderr.strip().splitlines() == [
        "synthlab: error: in the sweep over network.width, the value '-4': network depth >= 0, width >= 1, "
        "channels >= 1 and z_dim >= 0 needed, got 8, -4, 3, 8"]
    r = fcli("-m", "task=cppn", "network.width=16,-4", "--dry-run", cwd=tmp_path)  # a preview checks the same
    assert r.returncode == 2 and r.stdout == "" and "the value '-4'" in r.stderr
    r = fcli("-m", *TINY, "task.exemplar=/no/such.png", "seed=0,1,2", f"hydra.sweep.dir={tmp_path}/a", cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "a").exists()
    assert r.stderr.strip().splitlines() == ["synthlab: error: image not found: /no/such.png (exemplar)"]
    r = fcli("-m", *TINY, "task.exemplar=skimage:grass,/no/such.png", f"hydra.sweep.dir={tmp_path}/b", cwd=tmp_path)
    assert r.returncode == 2 and not (tmp_path / "b").exists()
    assert r.stderr.strip().splitlines() == ["synthlab: error: in the sweep over task.exemplar, the value "
                                             "'/no/such.png': image not found: /no/such.png (exemplar)"]


def test_the_preview_names_the_folders_the_sweep_makes_and_writes_nothing(tmp_path):
    args = ["-m", "task=cppn", "task.size=[16,16]", "logger=none", "trainer.enable_progress_bar=false",
            "network.width=4,8", "seed=0,1", f"hydra.sweep.dir={tmp_path}/s"]
    r = fcli(*args, "--dry-run", cwd=tmp_path)
    assert r.returncode == 0 and not (tmp_path / "s").exists(), r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == f"4 jobs in {tmp_path}/s (swept: network.width, seed)" and lines[-1].startswith("(dry run")
    previewed = {line.split()[1] for line in lines[1:5]}
    assert fcli(*args, cwd=tmp_path).returncode == 0
    assert {p.name for p in (tmp_path / "s").iterdir() if p.is_dir()} == previewed


def test_every_sweep_file_previews_its_job_count():
    import re

    import yaml
    from conftest import ROOT

    for f in sorted((ROOT / "sweeps").glob("*.yaml")):
        params = (yaml.safe_load(f.read_text()).get("hydra") or {}).get("sweeper", {}).get("params") or {}
        want = 1
        for v in params.values():  # a,b,c or a list written as "[a,b],[c,d]"
            want *= len(re.findall(r"\[[^\]]*\]", str(v))) or len(str(v).split(","))
        extra = ["network.weights=random"] if "fc_style" in f.stem else []
        r = fcli("-m", f"sweep={f.stem}", *extra, "--dry-run", cwd=ROOT)
        if "../shared/" in f.read_text() and not (ROOT.parent / "shared").is_dir():
            # a user's clone has no ../shared: the sweep's exemplars are named as missing, before any job
            assert r.returncode == 2 and "image not found: ../shared/" in r.stderr, (f.stem, r.stderr[-500:])
            continue
        assert r.returncode == 0, (f.stem, r.stderr[-500:])
        assert r.stdout.startswith(f"{want} jobs in "), (f.stem, r.stdout[:200])


def test_a_sweep_file_that_gives_a_key_twice_is_one_line():
    """In-process, against the conf/ of the package this test imports (a subprocess could load
    another installed copy), through the same preflight the command runs."""
    import pytest

    from synthlab import SynthlabError
    from synthlab.config import CONF
    from synthlab.preflight import check

    f = Path(CONF) / "sweep" / f"zz_test_twice_{os.getpid()}.yaml"
    f.write_text("# @package _global_\nhydra:\n  sweeper:\n    params:\n      seed: 0,1\n      seed: 2,3\n")
    try:
        with pytest.raises(SynthlabError) as e:
            check(["-m", f"sweep={f.stem}"], multirun=True, dry=True)
    finally:
        f.unlink()
    assert str(e.value) == f"{f.resolve()}, line 6: found duplicate key seed"


def test_a_joblib_sweep_with_a_failed_job_fails_too(tmp_path):
    """Parallel workers (launcher=joblib): the sweep's record and summary do not depend on the
    launcher; the failed job is named and the command exits 1."""
    args = ["-m", "task=cppn", "task.size=[16,16]", "logger=none", "trainer.enable_progress_bar=false",
            "launcher=joblib", "hydra.launcher.n_jobs=2", "task.coords=symmetric,nope", f"hydra.sweep.dir={tmp_path}/j"]
    r = cli(*args, cwd=tmp_path)
    failed = [p.parent for p in (tmp_path / "j").glob("*/error.txt")]
    assert len(failed) == 1 and r.returncode == 1, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == f"synthlab: 1 of 2 jobs failed (see {failed[0]})"
