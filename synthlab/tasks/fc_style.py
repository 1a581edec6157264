"""Neural style with content from VGG19's fully connected layers (seed 004): the content image
is also the style image unless another is given; adaptive pooling before the classifier lets
any output size through. Phases, budget and optimiser come from ImageTask (shared with texture).
"""

from pathlib import Path

import torch

from synthlab.data import load_image, resize
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.losses import ContentCritic, GramCritic, tv_loss
from synthlab.nets.vgg import IMAGENET_MEAN, IMAGENET_STD, MIN_SIZE
from synthlab.tasks.base import ImageTask, image_size


class FCStyle(ImageTask):
    def __init__(self, net, optim, content: str = "skimage:astronaut", style=None, size=(224, 224),
                 content_layers=("fc7",), style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                 style_layer_weights=None, content_weight: float = 1.0, style_weight: float = 1e3,
                 tv_weight: float = 1e-3, init: str = "noise", phases: int = 1, iterations: int = 100,
                 evals_per_step: int = 10, frames_every: int = 0, seed: int = 0, name: str = "fc_style"):
        super().__init__(optim, phases, iterations, evals_per_step, frames_every, seed, name)
        for key, v in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
            if v < 0:
                raise SynthlabError(f"task.{key} must be >= 0, got {v}")
        if init not in ("noise", "content"):
            raise SynthlabError(f"task.init must be noise or content, got {init!r}")
        self.net, self.init = net, init
        self.size = image_size(size)
        lw = list(style_layer_weights) if style_layer_weights is not None else [1.0] * len(style_layers)
        if len(lw) != len(style_layers):
            raise SynthlabError(f"task.style_layer_weights has {len(lw)} values for {len(style_layers)} style layers")
        net.check_taps(list(content_layers) + list(style_layers))
        self.content_critics = [ContentCritic(l, content_weight) for l in content_layers]
        self.style_critics = [GramCritic(l, style_weight * w) for l, w in zip(style_layers, lw)]
        self.taps = list(dict.fromkeys(list(content_layers) + list(style_layers)))
        self.tv_weight = tv_weight
        h, w = self.phase_size(self.size, 0)
        if min(h, w) < MIN_SIZE:
            raise SynthlabError(f"output {self.size[0]}x{self.size[1]} is too small: phase 0 is {h}x{w}, "
                                f"and VGG19 needs at least {MIN_SIZE}x{MIN_SIZE}; use a larger size or fewer phases")
        self.register_buffer("content", load_image(content), persistent=False)
        self.register_buffer("style", load_image(style) if style else self.content.clone(), persistent=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[None, :, None, None], persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[None, :, None, None], persistent=False)
        self.check_memory(2 * self.size[0] * self.size[1])  # content and style targets

    def features(self, x):
        return self.net((x - self.mean) / self.std, self.taps)

    def set_targets(self, phase):
        hw = self.phase_size(self.size, phase)
        content, style = resize(self.content, hw)[None], resize(self.style, hw)[None]
        fc, fs = self.features(content), self.features(style)
        for c in self.content_critics:
            c.set_target(fc[c.layer])
        for c in self.style_critics:
            c.set_target(fs[c.layer])
        self._content_now = content

    def initial_image(self, h, w):
        if self.init == "content":
            return self._content_now.clone()
        gen = torch.Generator().manual_seed(self.seed + 1)
        return torch.rand(1, 3, h, w, generator=gen)

    def losses(self):
        feats = self.features(self.image)
        content = sum(c.loss(feats[c.layer]) for c in self.content_critics)
        style = sum(c.loss(feats[c.layer]) for c in self.style_critics)
        return content, style, self.tv_weight * tv_loss(self.image, beta=1.0)

    def loss(self):
        return sum(self.losses())

    def save_outputs(self, out_dir: Path, text: dict) -> dict:
        img = self.result()
        weights = self.net.weights if self.net.weights in ("imagenet", "random") else str(self.net.weights)
        label = "random (untrained) VGG19" if weights == "random" else f"VGG19 weights: {weights}"
        save_png(out_dir / "fc_style.png", img, {**text, "synthlab:weights": label})
        with torch.no_grad():
            content, style, tv = self.losses()
        return {**self.run_stats(), "weights": label, "content_loss": float(content),
                "style_loss": float(style), "tv_loss": float(tv)}
