"""MNIST from the official IDX files (gz or raw), md5-checked, every split that is present.

`root` holds train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz)
and t10k-labels-idx1-ubyte(.gz). Missing files are downloaded from the usual mirrors (md5
checked) when `download` is on and the network answers; offline the error says which files to
put where. hardmaru's reference trains on train + test concatenated (70k) with random 26x26
crops of the 28x28 digits.
"""

import gzip
import hashlib
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from synthlab.errors import SynthlabError
from synthlab.online import unreachable

SPLITS = {"train": 60000, "t10k": 10000}
MD5 = {  # the official gzipped files
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRRORS = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"]


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gz or raw) as a uint8 array; bad magic, sizes or md5 name the file."""
    if path.name in MD5 and _md5(path) != MD5[path.name]:
        raise SynthlabError(f"{path} is corrupt or truncated (md5 {_md5(path)} is not {MD5[path.name]}): "
                            "delete it and fetch it again")
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError) as e:
        raise SynthlabError(f"cannot read {path}: {e}") from None
    if len(data) < 8 or data[0] or data[1] or data[2] != 8 or data[3] not in (1, 3):
        raise SynthlabError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    need = 4 + 4 * ndim + int(np.prod(dims))
    if len(data) != need:
        raise SynthlabError(f"{path} is truncated or padded: {len(data)} bytes, the header says {need}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(root: Path, stem: str):
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    return None


def download(root: Path, stem: str) -> Path:
    name = stem + ".gz"
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in MIRRORS:
        host = urlparse(mirror).hostname
        try:
            why = unreachable(mirror)
            if why:
                raise OSError(why)
            tmp = root / (name + ".part")
            urllib.request.urlretrieve(mirror + name, tmp)
            if _md5(tmp) != MD5[name]:
                tmp.unlink()
                raise OSError("md5 mismatch")
            tmp.rename(root / name)
            return root / name
        except OSError as e:
            errors.append(f"{host}: {e.strerror or e}")
    raise SynthlabError(f"MNIST file {name} is not in {root} and could not be downloaded ({'; '.join(errors)}): "
                        f"put the official {', '.join(MD5)} files in {root}")


def load_mnist(root, download_missing: bool = True):
    """All splits present under root: (images (N, 28, 28) uint8, labels (N,) int64), and the splits."""
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise SynthlabError(f"data.root {root} is a file: give the folder that holds the MNIST IDX files")
    images, labels, found = [], [], []
    for split in SPLITS:
        files = {k: _find(root, f"{split}-{k}") for k in ("images-idx3-ubyte", "labels-idx1-ubyte")}
        if not any(files.values()):
            continue
        if not all(files.values()):  # half a split is a mistake, not a smaller data set
            have, lack = (next(f"{split}-{k}" for k, v in files.items() if bool(v) == b) for b in (True, False))
            raise SynthlabError(f"{root} has {have} but not {lack}(.gz): add it, or remove {have}")
        x, y = read_idx(files["images-idx3-ubyte"]), read_idx(files["labels-idx1-ubyte"])
        if len(x) == 0:
            raise SynthlabError(f"{files['images-idx3-ubyte']} holds no digits (0 items)")
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise SynthlabError(f"{files['images-idx3-ubyte']} and {files['labels-idx1-ubyte']} do not pair up: "
                                f"images {x.shape}, labels {y.shape}")
        if y.max() > 9:
            raise SynthlabError(f"{files['labels-idx1-ubyte']} has labels above 9")
        images.append(x), labels.append(y.astype(np.int64)), found.append(split)
    if not found:
        if not download_missing:
            raise SynthlabError(f"no MNIST IDX files in {root}: put the official {', '.join(MD5)} files there")
        for stem in [f"{s}-{k}" for s in SPLITS for k in ("images-idx3-ubyte", "labels-idx1-ubyte")]:
            download(root, stem)
        return load_mnist(root, False)
    return torch.from_numpy(np.concatenate(images)), torch.from_numpy(np.concatenate(labels)), found


def random_crops(x: torch.Tensor, size: int, gen: torch.Generator) -> torch.Tensor:
    """(B, 28, 28) -> (B, 1, size, size) float in [0, 1], each at a random offset 0..28-size."""
    b, h, w = x.shape
    oy = torch.randint(0, h - size + 1, (b,), generator=gen)
    ox = torch.randint(0, w - size + 1, (b,), generator=gen)
    r = torch.arange(size)
    rows = (oy[:, None] + r)[:, :, None]
    cols = (ox[:, None] + r)[:, None, :]
    return (x[torch.arange(b)[:, None, None], rows, cols].float() / 255.0)[:, None]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, 28, 28) uint8 -> (B, 1, size, size) float in [0, 1], the middle window (evaluation
    and sampling use it; training uses random_crops)."""
    o = (x.shape[-1] - size) // 2
    return (x[:, o:o + size, o:o + size].float() / 255.0)[:, None]


def by_class(images: torch.Tensor, labels: torch.Tensor, per_class: int, size: int):
    """The first `per_class` digits of each class 0..9, centre-cropped: (x, y) in class order."""
    idx = torch.cat([(labels == c).nonzero()[:per_class, 0] for c in range(10)])
    return center_crop(images[idx], size), labels[idx]


class MNISTData(pl.LightningDataModule):
    def __init__(self, *, root: str, batch_size: int, crop: int, limit: int,
                 download: bool, seed: int):
        super().__init__()
        if batch_size < 1 or not 1 <= crop <= 28:
            raise SynthlabError(f"data.batch_size must be >= 1 and data.crop in 1..28, got {batch_size}, {crop}")
        self.root, self.batch_size, self.crop, self.limit = root, batch_size, crop, limit
        self.download, self.seed = download, seed
        self.images = self.labels = None

    def setup(self, stage=None):
        if self.images is None:
            self.images, self.labels, self.splits = load_mnist(self.root, self.download)
            self.all_images, self.all_labels = self.images, self.labels
            if self.limit:
                # a positive limit keeps the first N digits; a negative one drops the last N (a holdout)
                self.images, self.labels = self.images[:self.limit], self.labels[:self.limit]
            if not len(self.images):
                raise SynthlabError(f"data.limit={self.limit} leaves none of the {len(self.all_images)} digits "
                                    f"in {self.root}")
            self.gen = torch.Generator().manual_seed(self.seed)

    def collate(self, batch):
        x = torch.stack([b[0] for b in batch])
        y = torch.stack([b[1] for b in batch])
        return random_crops(x, self.crop, self.gen), y

    def train_dataloader(self):
        self.setup()
        return DataLoader(TensorDataset(self.images, self.labels), batch_size=self.batch_size, shuffle=True,
                          generator=torch.Generator().manual_seed(self.seed), collate_fn=self.collate,
                          drop_last=False, num_workers=0)
