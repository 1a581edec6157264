"""Neural style with content from VGG19's fully connected layers (seed 004): the content image
is also the style image unless another is given; adaptive pooling before the classifier lets
any output size through. Phases, budget and optimiser are the Solver's (shared with texture);
the losses are the configured critics: ContentCritic on the content image, GramCritic on the style
image (each critic says which image its targets come from).
"""

import torch

from synthlab.data import load_image, resize
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.losses import active, taps, tv_loss
from synthlab.nets.vgg import IMAGENET_MEAN, IMAGENET_STD, MIN_SIZE
from synthlab.tasks.base import ImageTask, image_size


class FCStyle(ImageTask):
    def __init__(self, net, optim, critics: dict, out_dir, *, content: str, style,
                 size, tv_weight: float, init: str, phases: int,
                 iterations: int, evals_per_step: int, frames_every: int, seed: int,
                 name: str):
        super().__init__(optim, phases, iterations, evals_per_step, frames_every, out_dir, name, seed)
        if not tv_weight >= 0:
            raise SynthlabError(f"task.tv_weight must be >= 0, got {tv_weight}")
        if init not in ("noise", "content"):
            raise SynthlabError(f"task.init must be noise or content, got {init!r}")
        self.net, self.init = net, init
        self.critics = active(critics or {}, "fc_style", "critic=[content,gram]")
        net.check_taps(taps(critics.values()))  # a switched-off critic's layers must exist too
        self.size = image_size(size)
        self.taps = taps(self.critics)
        self.tv_weight = tv_weight
        h, w = self.solver.phase_size(self.size, 0)
        if min(h, w) < MIN_SIZE:
            raise SynthlabError(f"output {self.size[0]}x{self.size[1]} is too small: phase 0 is {h}x{w}, "
                                f"and VGG19 needs at least {MIN_SIZE}x{MIN_SIZE}; use a larger size or fewer phases")
        self.register_buffer("content", load_image(content), persistent=False)
        self.register_buffer("style", load_image(style) if style else self.content.clone(), persistent=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN)[None, :, None, None], persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD)[None, :, None, None], persistent=False)
        self.content_now = None  # the content image at the current phase's size
        self.check_memory(2 * self.size[0] * self.size[1])  # content and style targets

    def features(self, x):
        return self.net((x - self.mean) / self.std, self.taps)

    def set_targets(self, phase):
        hw = self.solver.phase_size(self.size, phase)
        self.content_now = resize(self.content, hw)[None]
        feats = {"content": self.features(self.content_now), "style": self.features(resize(self.style, hw)[None])}
        for c in self.critics:
            c.set_target(feats[c.image])

    def initial_image(self, h, w):
        if self.init == "content":
            return self.content_now.clone()
        gen = torch.Generator().manual_seed(self.seed + 1)
        return torch.rand(1, 3, h, w, generator=gen)

    def losses(self) -> dict:
        """Each critic's loss by its image ("content", "style"), and the TV term."""
        feats = self.features(self.image)
        out = {"content": 0.0, "style": 0.0}
        for c in self.critics:
            out[c.image] = out[c.image] + c.loss(feats)
        out["tv"] = self.tv_weight * tv_loss(self.image, beta=1.0)
        return out

    def loss(self):
        return sum(self.losses().values())

    def save_outputs(self, text: dict) -> dict:
        img = self.result()
        weights = self.net.weights if self.net.weights in ("imagenet", "random") else str(self.net.weights)
        label = "random (untrained) VGG19" if weights == "random" else f"VGG19 weights: {weights}"
        save_png(self.out_dir / "fc_style.png", img, {**text, "synthlab:weights": label})
        with torch.no_grad():
            parts = self.losses()
        return {**self.run_stats(), "weights": label, **{f"{k}_loss": float(v) for k, v in parts.items()}}
