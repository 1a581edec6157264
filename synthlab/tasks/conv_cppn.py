"""Random conv nets on the slope image (seed 002): crop a border, min-max each channel, read
the three channels as Lab and convert to RGB. One pass: the spatial normalisation needs the
statistics of the whole image, so this task does not tile."""

import numpy as np
import torch

from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.metrics import complexity
from synthlab.nets.conv_cppn import slope
from synthlab.nets.cppn import n_params
from synthlab.render import check_size
from synthlab.tasks.base import Task, image_size, steps_loader


def lab_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """(3, H, W) in [0, 1] read as Lab (L = 100 x, a and b = 255 x - 128) -> RGB in [0, 1]."""
    from skimage.color import lab2rgb

    lab = x.permute(1, 2, 0).double().numpy() * np.array([100.0, 255.0, 255.0]) - np.array([0.0, 128.0, 128.0])
    return torch.from_numpy(lab2rgb(lab)).permute(2, 0, 1).float()


class ConvCPPNTask(Task):
    trains = False

    def __init__(self, net, out_dir, *, size, crop: int, color: str, seed: int,
                 name: str):
        super().__init__(out_dir, name, seed)
        h, w = image_size(size)
        if crop < 0:
            raise SynthlabError(f"task.crop must be >= 0, got {crop}")
        if color not in ("lab", "rgb"):
            raise SynthlabError(f"task.color must be lab or rgb, got {color!r}")
        self.net, self.size, self.crop, self.color = net, (h, w), crop, color
        pad = net.shrink() + crop
        self.in_size = (h + 2 * pad, w + 2 * pad)
        width = net.convs[0].out_channels
        check_size(*self.in_size, 3 * width)  # a few live activations of the widest layer
        self.image = None

    def predict_dataloader(self):
        return steps_loader(1)

    def predict_step(self, batch, batch_idx=0):
        x = slope(*self.in_size).to(next(self.net.parameters()).device)
        y = self.net(x)[0].float().cpu()
        c = self.crop
        y = y[:, c:y.shape[1] - c, c:y.shape[2] - c] if c else y
        lo = y.amin(dim=(1, 2), keepdim=True)
        hi = y.amax(dim=(1, 2), keepdim=True)
        y = (y - lo) / (hi - lo).clamp_min(1e-12)
        self.image = lab_to_rgb(y) if self.color == "lab" else y
        return None

    def save_outputs(self, text: dict) -> dict:
        save_png(self.out_dir / "conv_cppn.png", self.image, text)
        return {**complexity(self.image), "params": n_params(self.net), "size": list(self.image.shape[1:])}

    def result(self):
        return self.image
