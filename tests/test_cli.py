"""The real `synthlab` command, end to end, in subprocesses."""

import json

import pytest
from conftest import TINY, cli, fcli

pytestmark = pytest.mark.slow


def test_cli_writes_png_metrics_and_offline_wandb_run(tmp_path):
    args = [a for a in TINY if not a.startswith("logger")]
    r = fcli(*args, f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    out = tmp_path / "run"
    assert (out / "texture.png").stat().st_size > 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["status"] == "ok" and m["swd"] > 0
    runs = list((out / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))
    import numpy as np
    from PIL import Image

    media = sorted((runs[0] / "files" / "media" / "images").glob("*.png"))
    assert {p.name.split("_")[0] for p in media} == {"frames", "result"}
    for p in media:  # the logged images are the pictures, not black (wandb casts floats without scaling)
        a = np.asarray(Image.open(p).convert("RGB")).astype(int)
        assert a.max() > 100 and a.std() > 10, (p.name, a.min(), a.max())
    final = np.asarray(Image.open(out / "texture.png").convert("RGB")).astype(int)
    logged = [np.asarray(Image.open(p).convert("RGB")).astype(int) for p in media if p.name.startswith("result")]
    assert len(logged) == 1 and np.abs(logged[0] - final).max() <= 1  # the result is the saved texture


def test_help_names_the_tasks_report_and_bench():
    r = cli("--help")
    assert r.returncode == 0
    assert all(w in r.stdout for w in ("task=", "texture", "gan_sample", "synthlab report", "synthlab bench",
                                       "critic=[patches,gram]", "--hydra-help"))


def test_default_output_folder_is_task_date_time(tmp_path):
    r = fcli(*TINY, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    (run,) = list((tmp_path / "outputs" / "texture").glob("*/*"))
    assert len(run.name.split("-")) == 4  # HH-MM-SS-microseconds: same-second runs never collide
    assert (run / "texture.png").exists()


def test_two_job_multirun_makes_two_separate_wandb_runs(tmp_path):
    args = [a for a in TINY if not a.startswith("logger")]
    r = fcli("-m", *args, "network/activation=relu,elu", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    jobs = sorted(p.parent for p in (tmp_path / "sweep").glob("*/.hydra"))
    assert len(jobs) == 2 and jobs[0].name.startswith("network-activation=elu")
    ids = set()
    for j in jobs:
        assert json.loads((j / "metrics.json").read_text())["status"] == "ok"
        (run,) = list((j / "wandb").glob("offline-run-*"))
        ids.add(run.name.rsplit("-", 1)[1])
    assert len(ids) == 2


def test_sweep_jobs_are_named_by_what_varies_and_report_ranks_them(tmp_path):
    r = fcli("-m", *TINY, "network/activation=relu,elu", "seed=3", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    names = sorted(json.loads(p.read_text())["run_name"] for p in (tmp_path / "sweep").glob("*/metrics.json"))
    assert names == ["network/activation=elu", "network/activation=relu"]
    (tmp_path / "sweep" / "zz").mkdir()
    (tmp_path / "sweep" / "zz" / "error.txt").write_text("exemplar not found: x.png\n")
    r = fcli("report", str(tmp_path / "sweep"))
    assert r.returncode == 0, r.stderr
    rows = [l for l in r.stdout.splitlines() if l.startswith("| ")][1:]
    assert [l.split("|")[1].strip() for l in rows] == ["1", "2", "failed"]
    assert "exemplar not found" in rows[2]
    swds = [float(l.split("|")[3]) for l in rows[:2]]
    assert swds == sorted(swds)
    assert (tmp_path / "sweep" / "report.md").exists() and (tmp_path / "sweep" / "report.json").exists()


def test_report_folds_an_axis_into_mean_and_worst(tmp_path):
    from synthlab.io import write_json
    from synthlab.report import fold

    for i, (ex, v, swd) in enumerate([("a", 0.1, 10.0), ("b", 0.1, 30.0), ("a", 0.5, 5.0), ("b", 0.5, 7.0)]):
        d = tmp_path / str(i)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(f"- task.exemplar={ex}\n- task.variety={v}\n- logger=none\n")
        write_json(d / "metrics.json", {"status": "ok", "swd": swd, "copy32": 0.5, "copy64": 0.1 * i, "seconds": 1})
    from synthlab.report import collect

    rows = [l for l in fold(collect(tmp_path), "task.exemplar").splitlines()[2:]]
    assert rows[0].startswith("| task.variety=0.5 | 2 | 6 | 7 |")
    assert rows[1].startswith("| task.variety=0.1 | 2 | 20 | 30 |")


def test_bench_texture_prints_a_table_with_the_machine_and_writes_json(tmp_path):
    r = cli("bench", "texture", "--sizes", "48", "64", "--evals", "2", "--runs", "64", "--phases", "2", "--iterations", "3",
            "--variants", "reference", "+matches", "--json", str(tmp_path / "b.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith("machine: ") and "s/eval" in r.stdout and "x reference" in r.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    rows = data["texture"]["per_eval"]
    assert [(row["size"], row["variant"]) for row in rows] == [
        (48, "reference"), (48, "+matches reused (k=2), trades SWD"), (64, "reference"),
        (64, "+matches reused (k=2), trades SWD")]
    assert all(row["s_per_eval"] > 0 and 0 < row["match_share"] < 1 for row in rows)
    runs = data["texture"]["runs"]
    assert len(runs) == 2 and all(r["swd"] > 0 and r["evals"] >= 3 for r in runs)
    assert runs[0]["speedup"] == 1.0 and data["machine"]["cores"] >= 1


def test_bench_cppn_measures_each_render_in_its_own_process(tmp_path):
    r = cli("bench", "cppn", "--sizes", "96x64", "--nets", "cppn 8x16 tanh", "conv cppn 10x10", "--tiles", "1024",
            "--one-pass", "--repeat", "2", "--frames", "2", "--json", str(tmp_path / "c.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "min-max over 2 rounds" in r.stdout
    data = json.loads((tmp_path / "c.json").read_text())["cppn"]
    assert [row["variant"] for row in data["renders"]] == ["tiled 1024, torch ops (reference)", "one pass, torch ops",
                                                           "tiled 1024, default (fused kernel)", "one pass, torch ops"]
    assert all(row["mp_per_s"] > 0 and row["peak_mb"] > 50 for row in data["renders"])
    assert data["renders"][2]["speedup"] > 0 and "speedup" not in data["renders"][3]  # the conv CPPN: no reference
    assert [row["batch"] for row in data["animation"]] == [1, 1, 2]


def test_bench_gan_and_sweep_overhead(tmp_path, mnist):
    r = cli("bench", "gan", "--data", str(mnist), "--batch", "40", "--chunks", "20", "--reps", "1", "--fit-batches", "1",
            "--json", str(tmp_path / "g.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads((tmp_path / "g.json").read_text())["gan"]
    steps = data["steps"]
    assert data["fit"]["s_per_batch"] > 0
    names = [s["step"] for s in steps]
    assert names[:2] == ["generator, one graph, torch ops (reference)", "generator, chunks of 20, torch ops"]
    assert names[2].startswith("generator, one graph, ") and names[2].endswith("(default)") and names[3] == "discriminator"
    assert all(s["images_per_s"] > 0 for s in steps) and steps[2]["x_best_old"] > 0
    r = cli("bench", "sweep", "--jobs", "2", "--loggers", "none", "--json", str(tmp_path / "s.json"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads((tmp_path / "s.json").read_text())["sweep"]["rows"]
    assert rows[1]["jobs"] == 2 and rows[1]["overhead_s"] > 0


@pytest.mark.parametrize("launcher", ["joblib", "submitit_local"])
def test_parallel_and_submitit_launchers_run_every_job(tmp_path, launcher):
    pytest.importorskip({"joblib": "hydra_plugins.hydra_joblib_launcher",
                         "submitit_local": "hydra_plugins.hydra_submitit_launcher"}[launcher])
    r = cli("-m", *TINY, "seed=1,2", f"launcher={launcher}", f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path,
            timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    done = [json.loads(p.read_text()) for p in (tmp_path / "sweep").glob("*/metrics.json")]
    assert sorted(m["seed"] for m in done) == [1, 2] and all(m["status"] == "ok" for m in done)


@pytest.mark.parametrize("args, words", [
    (["task.exemplar=/missing.png"], "image not found: /missing.png"),
    (["task.exemplar=skimage:grss"], "unknown exemplar 'skimage:grss'"),
    (["task.size=[0,5]"], "task.size must be positive"),
    (["task=cppn", "task.animation.kind=morf"], "choose one of: none, morph, zoom, weights"),
    (["task=gan_sample"], "task.checkpoint must be set"),
    (["task=gan_sample", "task.checkpoint=/no/such.ckpt"], "checkpoint (task.checkpoint) not found"),
])
def test_bad_values_fail_before_hydra_and_leave_no_run_folder(tmp_path, args, words):
    """Value rules (synthlab/checks.py) run on the composed config before Hydra starts: one
    line, exit 2, and no outputs/ folder (timing is printed, not asserted)."""
    import time

    t = time.monotonic()
    r = fcli(*args, "logger=none", cwd=tmp_path)
    dt = time.monotonic() - t
    err = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == 2 and len(err) == 1 and words in err[0], r.stderr[-2000:]
    assert not list((tmp_path / "outputs").rglob("*.log")) and not list((tmp_path / "outputs").rglob("config.yaml"))
    print(f"\n{args}: {dt:.2f} s")


def test_sweep_jobs_say_k_of_n(tmp_path):
    r = fcli("-m", "task.size=[32,32]", "task.exemplar_max_side=32", "task.phases=1", "task.iterations=2", "seed=1,2",
            "network/activation=relu,elu", "logger=none", "trainer.enable_progress_bar=false",
            f"hydra.sweep.dir={tmp_path}/s", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert all(f"job {k} of 4:" in r.stderr + r.stdout for k in range(1, 5))


def test_job_folders_name_what_varies_whole_overrides_only(tmp_path):
    """Constant overrides stay out of a sweep job's folder name; a long name is cut between
    overrides, never inside one; the hash is of all overrides, so names stay unique."""
    from synthlab.io import write_json
    from synthlab.sweep import RECORD, job_dir

    write_json(tmp_path / RECORD, {"shared": ["task.size=[32,32]"]})  # what SweepRecord writes
    d = str(tmp_path)
    assert job_dir(d, "seed=1,task.size=[32,32]").startswith("seed=1_")
    long = job_dir(d, ",".join(f"task.key{i}=value{i}" for i in range(10)))
    assert long.split("_")[0].endswith(",etc") and "value4" not in long
    assert job_dir(d, "a=[1,2]").startswith("a=-1-2_") and job_dir(d, "a=1") != job_dir(d, "a=2")


@pytest.mark.parametrize("old, new, task", [
    ("task.smoothness=0.2", "task.tv_weight", "texture"), ("task.exemplar_size=128", "task.exemplar_max_side", "texture"),
    ("critic.patches.layers=[conv3_1]", "critic.patches.taps", "texture"),
    ("critic.sliced.layers=[conv3_1]", "critic.sliced.taps", "texture"),
    ("critic.gram.layers=[conv3_1]", "critic.gram.taps", "fc_style"),
    ("critic.content.layers=[fc7]", "critic.content.taps", "fc_style"),
    ("task.data_root=data/mnist", "data.root", "gan_sample")])
def test_a_renamed_key_answers_with_its_new_name(old, new, task):
    from synthlab import SynthlabError
    from synthlab.preflight import compose_checked

    extra = {"fc_style": ["critic=[content,gram]"], "texture": ["critic=[patches,sliced,gram]"]}.get(task, [])
    with pytest.raises(SynthlabError) as e:
        compose_checked([f"task={task}", *extra, old])
    assert str(e.value) == f"no config key {old.split('=')[0]!r}: it is now {new}"


def test_a_renamed_key_is_one_line_from_the_command(tmp_path):
    r = fcli("task.smoothness=0.2", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "synthlab: error: no config key 'task.smoothness': it is now task.tv_weight"]
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.png"))


def test_small_mistakes_are_one_line_on_stderr(tmp_path):
    """bench with an unknown name, report of a missing folder, --cfg job with a typo: one
    line on stderr each, nothing on stdout, exit 2."""
    cases = [(("bench", "foo"), "synthlab bench: error: unknown bench 'foo'; choose one of: texture, cppn, gan, sweep"),
             (("report", str(tmp_path / "none")), f"synthlab: error: no such folder: {tmp_path / 'none'}"),
             (("task.exemplr=x", "--cfg", "job"), "synthlab: error: no config key 'task.exemplr' (to add a new key "
                                                  "use +task.exemplr=...); did you mean task.exemplar?")]
    for args, line in cases:
        r = fcli(*args, cwd=tmp_path)
        assert (r.returncode, r.stdout, r.stderr.strip().splitlines()) == (2, "", [line]), args
