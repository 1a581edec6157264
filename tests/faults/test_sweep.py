"""Fault suite, sweeps: a job that raises does not stop the others; the rerun skips what
finished; the report lists the failure with its one-line reason."""

from conftest import TINY, cli


def test_failing_job_is_recorded_others_finish_and_rerun_skips_finished(tmp_path):
    sweep = f"hydra.sweep.dir={tmp_path}/sweep"
    # the second exemplar does not exist: that job fails, the first and third still run
    ex = "task.exemplar=skimage:grass,/no/such.png,skimage:brick"
    r = cli("-m", *TINY, ex, sweep, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    done = sorted((tmp_path / "sweep").glob("*/metrics.json"))
    failed = list((tmp_path / "sweep").glob("*/error.txt"))
    assert len(done) == 2 and len(failed) == 1 and "not found" in failed[0].read_text()
    stamps = {p: p.stat().st_mtime_ns for p in done}
    r = cli("-m", *TINY, ex, sweep, cwd=tmp_path)
    assert r.returncode == 0 and r.stderr.count("skipping finished job") == 2
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not run again
    rep = cli("report", str(tmp_path / "sweep"))
    assert "| failed |" in rep.stdout and "not found" in rep.stdout
    page = (tmp_path / "sweep" / "report.html").read_text()
    assert page.count('class="cell run"') == 2 and "not found" in page
