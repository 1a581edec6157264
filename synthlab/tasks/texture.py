"""Example-based texture synthesis with a random network (Neural Doodle's `random` branch).

The image lives in the network's input space [-1, 1] (doodle.py's x/127.5 - 1). Phases,
evaluation budget and optimiser handling are ImageTask's; this module gives the exemplar
targets per phase, the noise start and the Neural Patches loss.
"""

from pathlib import Path

import torch

from synthlab.data import fit_max_side, load_image, resize
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.losses import PatchCritic, ReferencePatchCritic, tv_loss
from synthlab.tasks.base import ImageTask, image_size


CRITICS = {"patches": PatchCritic, "reference": ReferencePatchCritic}


class TextureSynthesis(ImageTask):
    value_range = (-1.0, 1.0)

    def __init__(self, net, optim, exemplar: str = "skimage:grass", size=256, exemplar_size=None,
                 phases: int = 3, iterations: int = 100, layers=("conv3_1", "conv4_1"),
                 style_weight: float = 100.0, variety: float = 0.1, smoothness: float = 0.1,
                 noise_range=(0, 255), evals_per_step: int = 20, frames_every: int = 0,
                 match_budget_mb: float = 32.0, match_every: int = 1, match_dtype: str = "auto",
                 channels_last: bool = True, critic: str = "patches", seed: int = 0, name: str = "texture"):
        super().__init__(optim, phases, iterations, evals_per_step, frames_every, seed, name)
        for key, v in (("style_weight", style_weight), ("smoothness", smoothness), ("variety", variety)):
            if v < 0 or (key == "style_weight" and v == 0):
                raise SynthlabError(f"task.{key} must be {'positive' if key == 'style_weight' else '>= 0'}, got {v}")
        lo, hi = noise_range
        if not 0 <= lo < hi <= 255:
            raise SynthlabError(f"task.noise_range must satisfy 0 <= lo < hi <= 255, got {list(noise_range)}")
        self.net = net
        self.layers = list(layers)
        net.check_taps(self.layers)
        self.smoothness, self.noise_range = smoothness, (lo, hi)
        if critic not in CRITICS:
            raise SynthlabError(f"task.critic must be one of {', '.join(CRITICS)}, got {critic!r}")
        self.critics = [CRITICS[critic](l, style_weight, variety, match_budget_mb, match_every, match_dtype)
                        for l in self.layers]
        self.channels_last = channels_last
        if channels_last:  # NHWC convs: faster with oneDNN on CPU and tensor cores on GPU
            net.to(memory_format=torch.channels_last)
        ex = fit_max_side(load_image(exemplar), exemplar_size)
        self.register_buffer("exemplar", ex, persistent=False)
        self.size = image_size(size, tuple(ex.shape[-2:]))
        self.check_sizes()
        self.check_memory(ex.shape[-2] * ex.shape[-1])

    def check_sizes(self):
        """Every tapped layer must hold a 3x3 patch in every phase, for output and exemplar."""
        for what, hw in (("output", self.size), ("exemplar", tuple(self.exemplar.shape[-2:]))):
            h, w = self.phase_size(hw, 0)
            for layer in self.layers:
                fh, fw = self.net.feature_size(h, w, layer)
                if fh < 3 or fw < 3:
                    raise SynthlabError(
                        f"{what} {hw[0]}x{hw[1]} is too small: at phase 0 (scale 1/{2 ** (self.phases - 1)}) "
                        f"it is {h}x{w} and {layer} is {fh}x{fw}, but patches need 3x3; "
                        "use a larger size or fewer phases")

    def features(self, x):
        if self.channels_last:  # the image itself stays contiguous: L-BFGS flattens it with view()
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x, self.layers)

    def set_targets(self, phase):
        ex = resize(self.exemplar, self.phase_size(tuple(self.exemplar.shape[-2:]), phase))
        feats = self.features(ex[None] * 2 - 1)
        for c in self.critics:
            c.set_target(feats[c.layer])

    def initial_image(self, h, w):
        gen = torch.Generator().manual_seed(self.seed + 1)
        lo, hi = self.noise_range
        return torch.rand(1, 3, h, w, generator=gen) * (hi - lo) / 127.5 + (lo / 127.5 - 1)

    def loss(self):
        feats = self.features(self.image)
        loss = sum(c.loss(feats[c.layer]) for c in self.critics)
        if self.smoothness:
            loss = loss + self.smoothness * tv_loss(self.image)
        return loss

    def save_outputs(self, out_dir: Path, text: dict) -> dict:
        """Write texture.png (config in its PNG text) and return the quality metrics."""
        from synthlab.metrics import copy_shares, swd

        img = self.result()
        save_png(out_dir / "texture.png", img, text)
        ex = self.exemplar.float().cpu()
        s = swd(img, ex)
        return {"swd": s["mean"], "swd_levels": s["levels"], **copy_shares(img, ex), **self.run_stats(),
                "exemplar_size": list(ex.shape[-2:]), "match_dtype": str(self.critics[0].dtype).removeprefix("torch.")}
