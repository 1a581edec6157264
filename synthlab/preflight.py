"""What the command line is checked for before Hydra starts, so that a mistake is one line
(Hydra's own errors are many) and no run folder is made: group options, quoting, renamed and
misspelled keys, the values the composed config holds (synthlab/checks.py), and the folder
the run will write into."""

import difflib

from synthlab.errors import SynthlabError

# keys that moved or were renamed: the old name answers with the new one
RENAMED = {"task.style_weight": "critic.patches.weight (texture) or critic.gram.weight (fc_style)",
           "task.variety": "critic.patches.variety", "task.layers": "critic.patches.taps",
           "task.match_every": "critic.patches.match_every", "task.match_dtype": "critic.patches.match_dtype",
           "task.match_budget_mb": "critic.patches.budget_mb", "task.critic": "critic (e.g. critic=reference)",
           "task.content_layers": "critic.content.taps", "task.content_weight": "critic.content.weight",
           "task.style_layers": "critic.gram.taps", "task.style_layer_weights": "critic.gram.layer_weights",
           "task.lr": "optim.lr", "task.beta1": "optim.betas", "task.size": "data.crop (task=gan, mnist_classifier)",
           "task.train_size": "nothing: gan_sample reads it from the checkpoint",
           # one name per concept (round 3)
           "task.smoothness": "task.tv_weight", "task.exemplar_size": "task.exemplar_max_side",
           "task.data_root": "data.root"}
for _c in ("patches", "gram", "sliced", "content"):  # a critic's layers are its taps, as in the code
    RENAMED[f"critic.{_c}.layers"] = f"critic.{_c}.taps"

QUOTE = ("a value with commas, '=', spaces, brackets or non-ASCII letters must be quoted for Hydra, inside "
         "the shell's quotes: 'task.exemplar=\"my,file.png\"'")


def check_groups(args) -> None:
    """One-line errors for unknown group options, before Hydra prints its own multi-line ones."""
    from synthlab.config import groups, options

    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, value = arg.split("=", 1)
        key = key.lstrip("+~").removeprefix("override ").strip()
        opts = options(key)
        if opts is None:
            if "/" in key:
                raise SynthlabError(f"unknown config group {key!r}; groups: {', '.join(groups())}")
            continue
        if value in ("null", ""):  # Hydra takes no null for a group: a ValueError and its traceback
            raise SynthlabError(f"{key}={value} names no option of the {key} group; choose one of: {', '.join(opts)} "
                                f"(or leave {key} out for its default)")
        for v in value.strip("[]").split(","):
            if v.strip() not in opts:
                close = difflib.get_close_matches(v.strip(), opts, 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SynthlabError(f"unknown {key} {v.strip()!r}{hint}; choose one of: {', '.join(opts)}")


def parse(args, multirun: bool) -> list:
    """Hydra's parse of each override, or one line naming the one it cannot read and how to
    quote it. A single run with a list of values (a,b) is a sweep: it needs -m. In a sweep,
    every swept key must have at least one value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser, parsed = OverridesParser.create(), []
    for arg in args:
        if arg.startswith("-") or "=" not in arg:
            continue
        try:
            (o,) = parser.parse_overrides([arg])
        except HydraException:
            raise SynthlabError(f"cannot read the override {arg!r}: {QUOTE}") from None
        if o.is_sweep_override():
            values = list(o.sweep_string_iterator())
            if not multirun:
                raise SynthlabError(f"{arg!r} gives {len(values)} values: run them as a sweep with -m, or, if the "
                                    f"commas are part of one value, {QUOTE}")
            if not values:
                raise SynthlabError(f"the sweep over {o.get_key_element()} has no values ({arg!r}): nothing to run")
        elif o.get_key_element() == "sweep" and o.value() not in (None, "null") and not multirun:
            raise SynthlabError(f"sweep={o.value()} is a grid of jobs: run it with -m (synthlab -m sweep={o.value()})")
        parsed.append(o)
    return parsed


def compose_checked(args):
    """Compose once, so a misspelled or renamed key fails in one line with a suggestion. A
    sweep is composed with the first value of each swept key: the same keys."""
    import yaml
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

    from synthlab.config import compose

    ovr = [o.input_line if not o.is_sweep_override() else f"{o.get_key_element()}={next(o.sweep_string_iterator())}"
           for o in parse(args, True) if not o.get_key_element().lstrip("+~").startswith("hydra.")]
    try:
        return compose(ovr, hydra=True)  # with the hydra node: a sweep file's params are in it
    except yaml.YAMLError as e:  # a config or sweep file that is not valid YAML (a key given twice)
        mark = getattr(e, "problem_mark", None)
        where = f"{mark.name}, line {mark.line + 1}" if mark else "a config file"
        raise SynthlabError(f"{where}: {getattr(e, 'problem', None) or str(e).splitlines()[0]}") from None
    except (HydraException, OmegaConfBaseException) as e:
        cause = e.__cause__  # Hydra wraps the OmegaConf error that names the key it could not set
        key = cause.full_key if isinstance(cause, (ConfigAttributeError, ConfigKeyError)) else None
        if not key:
            raise SynthlabError(str(e).strip().splitlines()[0]) from None
        if key in RENAMED:
            raise SynthlabError(f"no config key {key!r}: it is now {RENAMED[key]}") from None
        msg = f"no config key {key!r} (to add a new key use +{key}=...)"
        parent, _, leaf = key.rpartition(".")
        try:  # a suggestion from the keys that do exist there
            cfg = compose([a for a in ovr if not a.startswith(key + "=")])
            known = OmegaConf.select(cfg, parent) if parent else cfg
            close = difflib.get_close_matches(leaf, [str(k) for k in known.keys()], 1) if known is not None else []
            if close:
                msg += f"; did you mean {parent + '.' if parent else ''}{close[0]}?"
        except Exception:  # the suggestion is a courtesy; the error line stands without it
            pass
        raise SynthlabError(msg) from None


def check_run_folder(args, multirun: bool) -> None:
    """The folder Hydra will write into (hydra.run.dir / hydra.sweep.dir, or outputs/) must be
    writable with some space left; a run folder named on the command line that holds a
    finished run, or one a live run is writing, is refused before Hydra writes anything."""
    from synthlab.runfolder import RunFolder

    key = "hydra.sweep.dir=" if multirun else "hydra.run.dir="
    given = [a.split("=", 1)[1] for a in args if a.startswith(key)]
    folder = RunFolder(given[-1] if given else "outputs")
    folder.check_writable()
    if given and not multirun:  # otherwise a new folder per run; sweep jobs lock their own
        folder.check_free_for(force="force=true" in args)


def check_network(cfg) -> None:
    """A sweep's network built once before its jobs (random weights: cheap), so a bad width,
    depth or unit count is one line, not one error folder per job. The class's own checks
    are the rule: nothing is written twice."""
    from omegaconf import OmegaConf

    from synthlab.config import instantiate

    if OmegaConf.select(cfg, "network._target_") is not None:
        instantiate(cfg.network)


def check_sweep(args, params: dict) -> None:
    """A sweep before its grid starts: the first job's config (values and network), then every
    other value of a swept key that a rule or the network checks, each named if bad. The sweep
    file's params come first and the command line wins, as Hydra's basic sweeper expands them."""
    from synthlab.checks import RULES
    from synthlab.checks import check as check_values
    from synthlab.config import compose

    lines = [f"{k}={v}" for k, v in params.items()] + [a for a in args if not a.startswith("-") and "=" in a]
    by_key = {o.get_key_element(): o for o in parse(lines, True)
              if not o.get_key_element().lstrip("+~").startswith("hydra.")}  # the last of a key wins
    first = {k: next(o.sweep_string_iterator()) if o.is_sweep_override() else o.value() for k, o in by_key.items()}
    base = [o.input_line for o in by_key.values() if not o.is_sweep_override()]
    firsts = [f"{k}={first[k]}" for k, o in by_key.items() if o.is_sweep_override()]
    cfg = compose(base + firsts)
    check_values(cfg)
    # the network only when a network key is changed: every option's YAML is built by the tests,
    # and building means importing torch (most of a preview's time)
    if any(k.startswith("network") for k in by_key):  # network=..., network.x, network/group
        check_network(cfg)
    for key, o in by_key.items():
        network = key.startswith(("network.", "network/"))
        if not o.is_sweep_override() or not (key in RULES or network):
            continue
        others = [f for f in firsts if not f.startswith(key + "=")]
        # the first value was checked with the rest
        for value, parsed in list(zip(o.sweep_string_iterator(), o.sweep_iterator()))[1:]:
            try:
                if network:
                    check_network(compose(base + others + [f"{key}={value}"]))
                else:  # a rule needs only the value, not a whole config
                    RULES[key](parsed)
            except SynthlabError as e:
                raise SynthlabError(f"in the sweep over {key}, the value {value!r}: {e}") from None


def check(args, multirun: bool, dry: bool = False) -> None:
    """Every check, in the order a user's mistakes are most often found."""
    from synthlab.checks import check as check_values

    check_groups(args)
    parse(args, multirun)
    if any(a.startswith("-") and a not in ("-m", "--multirun", "--cfg", "--resolve") for a in args):
        return  # Hydra's own options (--info, --hydra-help ...): nothing of ours to check
    cfg = compose_checked(args)
    if multirun:  # before any job starts
        check_sweep(args, dict(cfg.hydra.sweeper.params or {}))
    else:
        check_values(cfg)  # one line, quickly, and no run folder
    from synthlab.runfolder import rank

    # a preview writes nothing, so needs no folder; a distributed run's other ranks share rank 0's
    if "--cfg" not in args and not dry and rank() == 0:
        check_run_folder(args, multirun)
