"""Fault suite, config fuzzing: random overrides of each task's keys, with values of every kind
(negative, zero, huge, wrong type, odd strings), go through the CLI's own checks, composition
and construction. Each must either build or raise SynthlabError (the one-line error the CLI
prints); nothing else may escape."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthlab import SynthlabError
from synthlab.cli import check_keys, check_overrides

KEYS = {
    "texture": ["task.size", "task.phases", "task.iterations", "task.style_weight", "task.variety", "task.smoothness",
                "task.noise_range", "task.layers", "task.exemplar_size", "task.match_every", "task.match_dtype",
                "task.critic", "task.exemplar", "network.depth", "network/activation", "network/downsampling",
                "network/init", "optim", "seed", "task.evals_per_step", "task.sizee"],
    "cppn": ["task.size", "task.coords", "task.scale", "task.zoom", "task.z_dist", "task.z", "task.images",
             "task.tile", "task.animation.kind", "task.animation.frames", "task.animation.easing", "network.depth",
             "network.width", "network.schedule", "network.bias", "network.z_dim", "network.channels",
             "network/activation", "network/init", "seed"],
    "gan": ["task.size", "task.chunk", "task.g_steps", "task.scale", "task.keep_prob", "network.blocks",
            "network.width", "network.z_dim", "network.sub_depth", "data.batch_size", "data.crop", "seed"],
}
WEIRD = ["", "abc", "null", "[]", "[0,0]", "[-1,5]", "[3]", "[1,2,3]", "[a,b]", "'<script>'", "1e9", "nan", "-inf",
         "true", "{a: 1}", "${oc.env:HOME}", "elu", "relu", "float32", "bfloat16", "skimage:moon", "/no/file.png",
         "conv3_1", "[conv9_1]", "morph", "halving", "first", "zoom", "weights", "sine", "uniform"]
VALUES = st.one_of(st.integers(-3, 40).map(str), st.sampled_from(["0", "-1", "100000"]),
                   st.floats(-2, 50, allow_nan=False).map(lambda v: f"{v:.3g}"), st.sampled_from(WEIRD))
BASE = {"texture": ["task.size=[48,48]", "task.exemplar_size=48", "task.phases=1"],
        "cppn": ["task=cppn"], "gan": ["task=gan"]}


def build(task, overrides):
    """What the CLI does before running: its checks, then composing and building the task."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from synthlab.cli import CONF
    from synthlab.run import instantiate

    args = [*BASE[task], *overrides]
    check_overrides(args)
    check_keys(args)
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose("config", overrides=args)
    GlobalHydra.instance().clear()
    net = instantiate(cfg.network)
    kw = {"optim": instantiate(cfg.optim)} if task == "texture" else {}
    return instantiate(cfg.task, net=net, **kw)


@pytest.mark.parametrize("task", list(KEYS))
def test_random_overrides_build_or_give_the_clear_error(task):
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.lists(st.tuples(st.sampled_from(KEYS[task]), VALUES), min_size=1, max_size=3, unique_by=lambda kv: kv[0]))
    def check(pairs):
        overrides = [f"{k}={v}" for k, v in pairs]
        try:
            build(task, overrides)
        except SynthlabError as e:
            assert str(e).strip() and "\n" not in str(e).strip(), repr(str(e))
    check()
