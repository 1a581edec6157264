"""Value rules that need no torch: each lives here once, and is used twice.

The CLI runs `check(cfg)` on the composed config before Hydra starts (so a bad value is one
line in about the time a composition error takes, and no run folder is made); the code that
uses the value calls the same rule (tests and run() build tasks without the CLI). `RULES` maps
config keys to their rule; a key a task does not have is not checked.
"""

from pathlib import Path

from synthlab.errors import SynthlabError

SKIMAGE = ("grass", "brick", "gravel", "astronaut", "chelsea", "coffee", "rocket")  # bundled: no download
ANIMATIONS = ("none", "morph", "zoom", "weights")


def missing(key: str) -> str:
    return f"{key} must be set: add {key}=... to the command"


def image_source(spec, key: str = "image") -> str:
    """A readable image file, or skimage:NAME of a bundled photo."""
    spec = str(spec)
    if spec.startswith("skimage:"):
        if spec.split(":", 1)[1] not in SKIMAGE:
            raise SynthlabError(f"unknown {key} {spec!r}; offline names: " + ", ".join(f"skimage:{n}" for n in SKIMAGE))
        return spec
    path = Path(spec).expanduser()
    if not path.is_file():
        raise SynthlabError(f"image not found: {path}" + (f" ({key})" if key != "image" else ""))
    if path.stat().st_size == 0:
        raise SynthlabError(f"image {path} is empty (0 bytes)")
    return spec


def image_size(size, default=None):
    """task.size as (h, w): an int, [h, w], or None for `default`."""
    if size is None:
        return default
    try:
        h, w = (size, size) if isinstance(size, int) else (int(v) for v in size)
        assert not isinstance(size, (str, bool))
    except (TypeError, ValueError, AssertionError):
        raise SynthlabError(f"task.size must be an integer or [height, width], got {size!r}") from None
    if h <= 0 or w <= 0:
        raise SynthlabError(f"task.size must be positive, got {h}x{w}")
    return int(h), int(w)


def animation_kind(kind) -> str:
    if kind not in ANIMATIONS:
        raise SynthlabError(f"unknown animation kind {kind!r}; choose one of: {', '.join(ANIMATIONS)}")
    return kind


def weights_file(path, what: str = "checkpoint") -> Path:
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise SynthlabError(f"{what} not found: {path}")
    return path


def sweep_ok_if(value) -> str:
    if value not in ("all", "any"):
        raise SynthlabError(f"sweep_ok_if must be all (every job must finish) or any (a partial grid is fine), "
                            f"got {value!r}")
    return value


def ema_decay(v):
    """task.ema: the share of the moving average kept per batch, in (0, 1), or None (off)."""
    if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1):
        raise SynthlabError(f"task.ema must be in (0, 1) (the share of the average kept per batch), or null "
                            f"to sample the live weights; got {v!r}")
    return v


def lr_end(v):
    """task.lr_end: the GAN's last-epoch lr as a share of optim.lr, in (0, 1]."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1:
        raise SynthlabError(f"task.lr_end is the learning rate at the last epoch as a share of optim.lr, in (0, 1] "
                            f"(1: constant); got {v!r}")
    return float(v)


def temperature(v):
    """task.temperature: how far random z spread around their class's prototype, > 0 (1: as fitted)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
        raise SynthlabError(f"task.temperature scales the fitted prior's spread and must be > 0 (1: as fitted); "
                            f"got {v!r}")
    return float(v)


def kl_warmup(cfg):
    """task.kl_warmup: whole epochs over which the KL weight ramps up, 0 to trainer.max_epochs."""
    v, epochs = cfg.task.kl_warmup, cfg.trainer.get("max_epochs")
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or (epochs not in (None, -1) and v > epochs):
        raise SynthlabError(f"task.kl_warmup is the number of epochs over which the KL weight ramps up from 0, "
                            f"0 to trainer.max_epochs ({epochs}); got {v!r}")
    return v


def devices(v):
    """trainer.devices: a count >= 1, -1 (all), auto, or a non-empty list of device indices."""
    ok = (v == "auto" or v == -1 or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
          or (isinstance(v, list) and v and all(isinstance(i, int) and i >= 0 for i in v)))
    if not ok:
        raise SynthlabError(f"trainer.devices must be a count >= 1, -1 (all), auto or a list of device indices; "
                            f"got {v!r}")
    return v


def accelerator(v):
    """trainer.accelerator: a GPU only where torch sees one (torch is imported only to ask)."""
    if v in ("gpu", "cuda"):
        import torch

        if not torch.cuda.is_available():
            raise SynthlabError(f"trainer.accelerator={v}: torch {torch.__version__} sees no CUDA GPU on this "
                                "machine; use trainer.accelerator=cpu (or auto)")
    return v


RULES = {
    "sweep_ok_if": sweep_ok_if,
    "task.exemplar": lambda v: image_source(v, "exemplar"),
    "task.content": lambda v: image_source(v, "content image"),
    "task.style": lambda v: v is None or image_source(v, "style image"),
    "task.size": image_size,
    "task.animation.kind": animation_kind,
    "task.checkpoint": lambda v: weights_file(v, "checkpoint (task.checkpoint)"),
    "task.classifier": lambda v: v is None or weights_file(v, "classifier checkpoint (task.classifier)"),
    "task.ema": ema_decay,
    "task.lr_end": lr_end,
    "task.temperature": temperature,
    "trainer.devices": devices,
    "trainer.accelerator": accelerator,
}

WHOLE = {"task.kl_warmup": kl_warmup}  # rules that read other keys too: rule(cfg)


def check(cfg) -> None:
    """Every rule whose key this config has; the first bad value raises its one line."""
    from omegaconf import OmegaConf

    for key, rule in RULES.items():
        parent, _, leaf = key.rpartition(".")
        holder = OmegaConf.select(cfg, parent, default=None) if parent else cfg
        if not OmegaConf.is_config(holder) or leaf not in holder.keys():  # `in` skips ??? values
            continue
        if OmegaConf.is_missing(holder, leaf):
            raise SynthlabError(missing(key))
        node = holder[leaf]
        value = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        rule(value)
    for key, rule in WHOLE.items():
        if OmegaConf.select(cfg, key, default=None) is not None:
            rule(cfg)
