"""VGG19 with torchvision's layer layout and state-dict keys (`features.N.*`, `classifier.N.*`),
named taps, and adaptive pooling to 7x7 before the classifier so any image size works.

Taps: convX_Y (before its relu) and reluX_Y (after), poolN, fc6/fc7/fc8 (linear outputs) and
relu6/relu7 (after their relu). Weights: `imagenet` (torchvision's file from the torch hub cache,
hash-checked; downloaded when online), a path to a torchvision-layout .pth, or `random` (the
init group: seed 000's random-network idea applied here).
"""

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from synthlab.errors import SynthlabError
from synthlab.io import check_state, load_weights
from synthlab.nets.features import FeatureNet
from synthlab.nets.layers import init_layers, run_taps
from synthlab.online import unreachable

CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_SIZE = 32  # five 2x2 poolings


def imagenet_file() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(IMAGENET_URL).path).name


class VGG19(FeatureNet):
    min_size = MIN_SIZE
    label = "network=vgg19"

    def __init__(self, activation, init, *, weights: str, pool: str, fc_pool: str,
                 seed: int):
        super().__init__()
        pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
        fc_pools = {"max": nn.AdaptiveMaxPool2d, "avg": nn.AdaptiveAvgPool2d}
        for what, v, ok in (("pool", pool, pools), ("fc_pool", fc_pool, fc_pools)):
            if v not in ok:
                raise SynthlabError(f"network.{what} must be one of {sorted(ok)}, got {v!r}")
        layers, names, c, block, k = [], [], 3, 1, 1
        for v in CFG:
            if v == "M":
                layers.append(pools[pool](2, 2))
                names.append(f"pool{block}")
                block, k = block + 1, 1
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), activation()]
                names += [f"conv{block}_{k}", f"relu{block}_{k}"]
                c, k = v, k + 1
        self.features = nn.Sequential(*layers)
        self.avgpool = fc_pools[fc_pool]((7, 7))  # torchvision's name, whatever the pooling
        self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 4096), activation(), nn.Dropout(),
                                        nn.Linear(4096, 4096), activation(), nn.Dropout(), nn.Linear(4096, 1000))
        self.feature_names = names
        self.fc_names = ["fc6", "relu6", "drop6", "fc7", "relu7", "drop7", "fc8"]
        self.weights = str(weights)
        if self.weights == "random":
            init_layers(self, init, seed)
        else:
            self.load(imagenet_weights() if self.weights == "imagenet" else Path(self.weights))
        self.requires_grad_(False)
        self.eval()  # dropout off: features, not training

    @property
    def names(self):
        return self.feature_names + [n for n in self.fc_names if not n.startswith("drop")]

    def load(self, path: Path) -> None:
        """A torchvision-layout state dict, checked key by key and shape by shape."""
        state = load_weights(path, "weights")
        check_state(self.state_dict(), state, f"weights {path} (torchvision VGG19 layout expected)")
        self.load_state_dict(state)

    def layer_size(self, h: int, w: int, layer: str):
        """Each pool before the layer halves (floors) H and W; fc layers are vectors."""
        if layer.startswith(("fc", "relu6", "relu7")):
            return 1, 1
        for _ in range(int(layer[4:].split("_")[0]) - (layer.startswith(("conv", "relu")))):
            h, w = h // 2, w // 2
        return h, w

    def compute(self, x: torch.Tensor, names):
        """Features of these layers for images normalised with the ImageNet mean and std;
        stops after the deepest one."""
        want, out = set(names), {}
        x = run_taps(zip(self.feature_names, self.features), x, want, out)
        if x is not None:  # an fc layer is tapped: pool to 7x7 whatever the size, then the classifier
            run_taps(zip(self.fc_names, self.classifier), torch.flatten(self.avgpool(x), 1), want, out)
        return out


def _sha256_prefix(path: Path, n: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def imagenet_weights() -> Path:
    """torchvision's VGG19 file in the torch hub cache, hash-checked; downloaded if online."""
    path = imagenet_file()
    prefix = path.stem.rsplit("-", 1)[-1]
    if path.is_file():
        if _sha256_prefix(path, len(prefix)) != prefix:
            raise SynthlabError(f"{path} is corrupt (its sha256 does not start with {prefix}): delete it "
                                f"and download {IMAGENET_URL} again")
        return path
    why = unreachable(IMAGENET_URL)
    if why:
        raise SynthlabError(f"VGG19 ImageNet weights are not in the torch hub cache and the download failed "
                            f"({why}): download {IMAGENET_URL} and put it at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(IMAGENET_URL, str(path), hash_prefix=prefix, progress=True)
    except Exception as e:
        if path.exists():
            os.remove(path)
        raise SynthlabError(f"downloading {IMAGENET_URL} failed ({e}); put the file at {path}") from None
    return path
