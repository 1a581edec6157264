"""Fault suite, config fuzzing: random overrides of each task's keys, with values of every kind
(negative, zero, huge, wrong type, odd strings), go through the CLI's own checks, composition
and construction. Each must either build or raise SynthlabError (the one-line error the CLI
prints); nothing else may escape."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthlab import SynthlabError
from synthlab.preflight import check_groups, compose_checked

KEYS = {
    "texture": ["task.size", "task.phases", "task.iterations", "critic.patches.weight", "critic.patches.variety",
                "task.tv_weight", "task.noise_range", "critic.patches.taps", "task.exemplar_max_side",
                "critic.patches.match_every", "critic.patches.match_dtype", "critic.patches.budget_mb", "critic",
                "task.exemplar", "network.depth", "network/activation", "network/downsampling",
                "network/init", "optim", "seed", "task.evals_per_step", "task.sizee"],
    "cppn": ["task.size", "task.coords", "task.scale", "task.zoom", "task.z_dist", "task.z", "task.images",
             "task.tile", "task.animation.kind", "task.animation.frames", "task.animation.easing", "network.depth",
             "network.width", "network.schedule", "network.bias", "network.z_dim", "network.channels",
             "network/activation", "network/init", "seed"],
    "gan": ["task.chunk", "task.g_steps", "task.scale", "task.keep_prob", "network.blocks", "optim.lr",
            "network.width", "network.z_dim", "network.sub_depth", "data.batch_size", "data.crop", "seed"],
}
WEIRD = ["", "abc", "null", "[]", "[0,0]", "[-1,5]", "[3]", "[1,2,3]", "[a,b]", "'<script>'", "1e9", "nan", "-inf",
         "true", "{a: 1}", "${oc.env:HOME}", "elu", "relu", "float32", "bfloat16", "skimage:moon", "/no/file.png",
         "conv3_1", "[conv9_1]", "morph", "halving", "first", "zoom", "weights", "sine", "uniform", "gram",
         "[patches,gram]", "reference"]
VALUES = st.one_of(st.integers(-3, 40).map(str), st.sampled_from(["0", "-1", "100000"]),
                   st.floats(-2, 50, allow_nan=False).map(lambda v: f"{v:.3g}"), st.sampled_from(WEIRD))
BASE = {"texture": ["task.size=[48,48]", "task.exemplar_max_side=48", "task.phases=1"],
        "cppn": ["task=cppn"], "gan": ["task=gan", "data.download=false"]}


def build(task, overrides, out):
    """What the CLI does before running: its checks, then composing and building the task."""
    from synthlab.config import compose
    from synthlab.run import build as build_task

    args = [*BASE[task], *overrides]
    check_groups(args)
    compose_checked(args)
    return build_task(compose(args), out)


@pytest.mark.parametrize("task", list(KEYS))
def test_random_overrides_build_or_give_the_clear_error(task, tmp_path, mnist):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(st.tuples(st.sampled_from(KEYS[task]), VALUES), min_size=1, max_size=3, unique_by=lambda kv: kv[0]))
    def check(pairs):
        overrides = [f"{k}={v}" for k, v in pairs] + ([f"data.root={mnist}"] if task == "gan" else [])
        try:
            build(task, overrides, tmp_path)
        except SynthlabError as e:
            assert str(e).strip() and "\n" not in str(e).strip(), repr(str(e))
    check()
