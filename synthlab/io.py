"""Atomic output files: a killed run never leaves a half-written file under its final name, and
a symlink planted under an output's name is replaced, never followed out of the folder. Every
file synthlab writes goes through atomic_write."""

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path

# torch, numpy and PIL are imported where they are used: the sweep's bookkeeping and the
# preflight checks write JSON through this module and must start without them (a preview
# of a sweep would otherwise spend most of its time importing torch)

FULL = 256 << 10  # bytes free below which a failed write is taken for a full disk


def atomic_write(path, write) -> Path:
    """Call write(tmp_path), then rename tmp_path to path (same folder, so the rename is atomic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temp name keeps the real suffix: some writers (ffmpeg) pick the format from it
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    full = False
    try:
        write(tmp)
        with open(tmp, "rb") as f:  # on disk before the rename: a crash never shows an empty file
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)
    except OSError as e:  # name the file the user knows, not the temp file
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None
    except Exception:
        # some writers report a full disk as their own error (torch.save: "unexpected pos");
        # a disk with no room left after the failed write says what it was
        full = shutil.disk_usage(path.parent).free < FULL
        if not full:
            raise
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    if full:  # raised out here, so the writer's traceback (and its open file) is already gone
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return path


def to_pil(img):
    """(3, H, W) or (1, 3, H, W) in [0, 1] -> 8-bit RGB image."""
    import numpy as np
    from PIL import Image

    img = img.detach().float().cpu()
    img = img[0] if img.dim() == 4 else img
    a = (img.clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)


def save_png(path, img, text: dict | None = None) -> Path:
    """PNG with optional text chunks (e.g. the resolved config), written atomically."""
    from PIL import Image, PngImagePlugin

    pil = img if isinstance(img, Image.Image) else to_pil(img)
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_itxt(k, str(v))
    return atomic_write(path, lambda tmp: pil.save(tmp, format="PNG", pnginfo=info))


def write_text(path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def write_json(path, data) -> Path:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")

    return atomic_write(path, write)


def checkpoint_io():
    """Lightning CheckpointIO whose checkpoints are written by atomic_write (temp file, fsync,
    rename): a run killed while saving keeps its previous last.ckpt intact."""
    import torch
    from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

    class AtomicCheckpointIO(TorchCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))

    return AtomicCheckpointIO()


def epoch_checkpoints(folder):
    """Lightning's checkpoint callback keeping every epoch (the post compares epoch 6 with 24)
    as folder/epochNNN.ckpt, named by the 1-based epoch they end like the sample sheets and
    epochs.jsonl (Lightning counts from 0), plus last.ckpt for resume."""
    from pytorch_lightning.callbacks import ModelCheckpoint

    class EpochCheckpoint(ModelCheckpoint):
        def format_checkpoint_name(self, metrics, filename=None, ver=None, prefix=None):
            if "epoch" in metrics:
                metrics = {**metrics, "epoch": int(metrics["epoch"]) + 1}
            return super().format_checkpoint_name(metrics, filename, ver, prefix)

    return EpochCheckpoint(dirpath=folder, filename="epoch{epoch:03d}", auto_insert_metric_name=False,
                           every_n_epochs=1, save_top_k=-1, save_last=True)


def load_weights(path, what: str = "checkpoint", hint: str = ""):
    """torch.load(weights_only=True) of a file, or one line naming the file and the problem
    (missing, truncated, a pickle with code, not a torch file), then `hint`."""
    import torch

    from synthlab.errors import SynthlabError

    path = Path(path)
    if not path.is_file():
        raise SynthlabError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        text = str(e).strip()
        if "WeightsUnpickler error:" in text:  # a pickle that would run code: say what it wanted
            why = text.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
            raise SynthlabError(f"refused to load {what} {path}: it is not plain weights ({why}); "
                                "synthlab loads weights only, never code") from None
        msg = (text.splitlines() or [type(e).__name__])[0][:160]
        raise SynthlabError(f"cannot read {what} {path} ({type(e).__name__}: {msg}){hint}") from None


def check_state(own: dict, state, where: str, ignore: tuple = ()) -> None:
    """A state dict that fits `own` key by key and shape by shape, or one line naming the first
    mismatch and how many there are. `ignore`: key prefixes `state` may carry on top."""
    import torch

    from synthlab.errors import SynthlabError

    if not isinstance(state, dict):
        raise SynthlabError(f"{where} holds a {type(state).__name__}, not a state dict")
    missing = sorted(set(own) - set(state))
    extra = sorted(k for k in set(state) - set(own) if not (ignore and k.startswith(ignore)))
    shape = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or extra or shape:
        k = (shape or missing or extra)[0]
        how = (f"has shape {tuple(state[k].shape)} where the config gives {tuple(own[k].shape)}" if shape
               else "is missing" if missing else "is not in this config")
        raise SynthlabError(f"{where} does not fit this config: key {k!r} {how} "
                            f"({len(missing)} missing, {len(extra)} unexpected, {len(shape)} wrong shapes)")
    bad = [k for k in own if torch.is_floating_point(state[k]) and not torch.isfinite(state[k]).all()]
    if bad:  # NaN weights would surface much later as "loss became nan"
        raise SynthlabError(f"{where} holds NaN or infinite values in {len(bad)} tensor(s), e.g. {bad[0]!r}")
