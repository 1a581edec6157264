"""The config tree: where conf/ is, composing it (as the CLI does) and the resolvers it uses.

Tests and `synthlab bench` compose through compose() here, then build through run.build(), so
they get exactly the objects a `synthlab ...` command gets.
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

# conf/ sits beside the package in a checkout; a wheel carries it inside as synthlab/conf
_HERE = Path(__file__).resolve().parent
CONF = str(_HERE / "conf") if (_HERE / "conf").is_dir() else str(_HERE.parent / "conf")


def split_top(text: str) -> list:
    """Split on commas outside brackets and quotes: 'a=1,b=[2,3]' -> ['a=1', 'b=[2,3]']."""
    out, depth, quote, cur = [], 0, None, ""
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    return out + [cur]


def register_resolvers() -> None:
    """Resolvers that conf/config.yaml names; called by the CLI before Hydra composes."""
    from synthlab.sweep import job_dir

    OmegaConf.register_new_resolver("job_dir", job_dir, replace=True)


def compose(overrides=(), hydra: bool = False) -> DictConfig:
    """The root config with these overrides, as the CLI composes it (hydra=True keeps the
    `hydra` node, which configs that interpolate `${hydra:...}` need)."""
    from hydra import compose as _compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            return _compose("config", overrides=list(overrides), return_hydra_config=hydra)
    finally:
        GlobalHydra.instance().clear()


def options(group: str) -> list[str] | None:
    """The options of a config group (None: no such group)."""
    d = Path(CONF) / group
    return sorted(p.stem for p in d.glob("*.yaml")) if d.is_dir() else None


def groups() -> list[str]:
    root = Path(CONF)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and any(p.glob("*.yaml")))


def instantiate(node, *args, **kwargs):
    """hydra's instantiate, but a SynthlabError inside comes out as itself, not wrapped."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as _instantiate
    from omegaconf.errors import MissingMandatoryValue

    from synthlab.checks import missing
    from synthlab.errors import SynthlabError

    try:
        return _instantiate(node, *args, **kwargs)
    except MissingMandatoryValue as e:
        raise SynthlabError(missing(e.full_key)) from None
    except InstantiationException as e:
        cause = e
        while cause is not None and not isinstance(cause, SynthlabError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        # a value of the wrong type or range that the class did not check itself: still a
        # config mistake, named in one line (target and the underlying message)
        root = e
        while root.__cause__ is not None:
            root = root.__cause__
        target = node.get("_target_", "?")
        msg = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
        raise SynthlabError(f"cannot build {target} from the config: {type(root).__name__}: {msg}") from e
