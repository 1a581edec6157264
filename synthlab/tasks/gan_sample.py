"""Sample a trained CPPN-GAN checkpoint: digit grids, class-conditional digits at any size through
the shared tiled renderer, random-z samples, and the 0 -> 1 -> ... -> 9 -> 0 latent morph. The
training crop size is read from the checkpoint (the encoder's input)."""

import math
import re

import torch

from synthlab.checks import temperature as check_temperature
from synthlab.data.mnist import by_class, load_mnist
from synthlab.errors import SynthlabError
from synthlab.io import load_weights, save_png
from synthlab.metrics.digits import (
    PRIOR_PER_CLASS,
    SCORE_PER_CLASS,
    class_scores,
    draw_z,
    firsts,
    fit_prior,
    load_classifier,
    random_scores,
    render_scores,
)
from synthlab.nets.cppn import ResidualCPPN
from synthlab.nets.encoder import Encoder
from synthlab.render import check_size, grid, render_digits, save_gif, save_mp4, timeline, video_ready
from synthlab.tasks.base import Task, image_size, steps_loader

# checkpoints from before the generator's shape was recorded (round 3): every one of them was
# trained with these (network=resnet_cppn's values then); the rest is read from the weights
PRIORS = ("fitted", "normal")  # random z: one Gaussian per class fitted to the encoder's means, or N(0, I)
DIGITS = ("prototype", "first")  # the big renders' z: each class's mean z, or its first real digit's
OLD_GENERATOR = dict(z_scale=8.0, std_in=0.05, std_relu=1.0, std_gate=0.001)


def load_gan(path):
    """Generator and encoder from a task=gan checkpoint (weights_only), rebuilt as trained: the
    moving averages of G and E where the run kept them (task.ema)."""
    ckpt = load_weights(path)
    sd = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(sd, dict):
        raise SynthlabError(f"{path} is not a task=gan checkpoint (no state_dict)")
    ema = any(k.startswith("G_ema.") for k in sd)
    g = {k[6 if ema else 2:]: v for k, v in sd.items() if k.startswith("G_ema." if ema else "G.")}
    e = {k[6 if ema else 2:]: v for k, v in sd.items() if k.startswith("E_ema." if ema else "E.")}
    try:
        shape = ckpt.get("generator")
        if not isinstance(shape, dict):
            width, in_dim = g["coord_in.weight"].shape
            shape = dict(OLD_GENERATOR, width=width, in_dim=in_dim, channels=g["out.weight"].shape[0],
                         z_dim=g["z_in.weight"].shape[1],
                         blocks=1 + max(int(m.group(1)) for k in g if (m := re.match(r"blocks\.(\d+)\.", k))),
                         sub_depth=max(int(m.group(1)) for k in g if (m := re.match(r"blocks\.0\.(\d+)\.", k))))
        shape = {**shape, "z_blocks": "z_block.weight" in g}  # runs from before the key have none
        net = ResidualCPPN(**shape, kernel="auto", seed=0)  # the seed only draws weights, replaced here
        net.load_state_dict(g)
        enc = Encoder(e["body.1.weight"].shape[1], e["body.1.weight"].shape[0], e["mean.weight"].shape[0],
                      keep_prob=1.0)  # it samples in eval mode: dropout never runs
        enc.load_state_dict(e)
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        raise SynthlabError(f"{path} is not a task=gan checkpoint of the residual CPPN: "
                            f"{str(err).splitlines()[0][:200]}") from None
    return net.eval(), enc.eval(), ema


class GANSample(Task):
    trains = False

    def __init__(self, checkpoint: str, out_dir, *, data, size,
                 scale: float, per_class: int, random: int, morph: bool,
                 morph_size: int, morph_frames: int, fps: float, invert: bool,
                 morph_formats, classifier: str | None, tile: int, prior: str, temperature: float, digits: str,
                 seed: int, name: str):
        super().__init__(out_dir, name, seed)
        if prior not in PRIORS:
            raise SynthlabError(f"unknown task.prior {prior!r}; choose one of: {', '.join(PRIORS)}")
        if digits not in DIGITS:
            raise SynthlabError(f"unknown task.digits {digits!r}; choose one of: {', '.join(DIGITS)}")
        self.temperature = check_temperature(temperature)
        self.G, self.E, self.ema = load_gan(checkpoint)
        self.prior, self.digits = prior, digits
        self.train_size = math.isqrt(self.E.body[1].in_features)  # the encoder reads crop x crop pixels
        self.size, self.scale = image_size(size), scale
        check_size(*self.size, self.G.channels, 10)
        self.per_class, self.random, self.morph, self.morph_size = per_class, random, morph, morph_size
        self.morph_frames, self.fps, self.invert, self.tile = morph_frames, fps, invert, tile
        self.data_root = str(data["root"])  # real digits to encode: the GAN's data.root
        self.morph_formats = list(morph_formats)
        if not set(self.morph_formats) <= {"gif", "mp4"}:
            raise SynthlabError(f"task.morph_formats takes gif and/or mp4, got {self.morph_formats}")
        if morph and "mp4" in self.morph_formats:
            video_ready()  # before any rendering: one line if the video extra is missing
        self.classifier = load_classifier(classifier, self.train_size) if classifier else None
        self.out = {}

    def predict_dataloader(self):
        return steps_loader(1)

    def draw(self, z, h: int, w: int):
        return render_digits(self.G, z, h, w, self.scale, self.tile)

    @torch.no_grad()
    def predict_step(self, batch, batch_idx=0):
        images, labels, _ = load_mnist(self.data_root, download_missing=True)
        x, y_real = by_class(images, labels, max(self.per_class, SCORE_PER_CLASS, PRIOR_PER_CLASS), self.train_size)
        z_real, _ = self.E(x)  # the means, each real digit encoded once: the encoder in eval mode, no dropout
        prior_rows = firsts(y_real, PRIOR_PER_CLASS)
        fitted = fit_prior(z_real[prior_rows], y_real[prior_rows])  # as training fits it each epoch
        rows = firsts(y_real, max(self.per_class, SCORE_PER_CLASS))
        z_class, y = z_real[rows], y_real[rows]
        self.out["scored"] = self.draw(z_class, self.train_size, self.train_size)
        self.out["y"] = y
        self.out["class_grid"] = self.out["scored"][firsts(y, self.per_class)]
        # the grid draws from task.prior; the other prior's samples are scored too (metrics only)
        for name in PRIORS:
            key = "random_grid" if name == self.prior else f"random_grid_{name}"
            z = draw_z(self.random, self.G.z_dim, fitted if name == "fitted" else None, self.seed, self.temperature)
            self.out[key] = self.draw(z, self.train_size, self.train_size)
        picks = fitted[1] if self.digits == "prototype" else torch.stack([z_class[y == d][0] for d in range(10)])
        self.out["digits"] = self.draw(picks, *self.size)
        if self.morph:
            t = timeline(self.morph_frames + 1, "sine")[:-1]  # each pair without its end frame
            zs = torch.cat([picks[i] + (picks[(i + 1) % 10] - picks[i]) * t[:, None] for i in range(10)])
            frames = [self.draw(zb, self.morph_size, self.morph_size)
                      for zb in zs.split(8)]
            self.out["morph"] = torch.cat(frames)

    def save_outputs(self, text: dict) -> dict:
        out_dir = self.out_dir
        inv = (lambda im: 1 - im) if self.invert else (lambda im: im)
        save_png(out_dir / "class_grid.png", inv(grid(self.out["class_grid"], self.per_class)), text)
        save_png(out_dir / "random_grid.png", inv(grid(self.out["random_grid"], 10)), text)
        for d, img in enumerate(self.out["digits"]):
            save_png(out_dir / f"digit_{d}_{self.size[1]}x{self.size[0]}.png", inv(img), text)
        m = {"size": list(self.size), "per_class": self.per_class, "prior": self.prior,
             "temperature": self.temperature, "digits": self.digits,
             "weights": "moving average" if self.ema else "live"}
        if "morph" in self.out:
            if "gif" in self.morph_formats:
                save_gif(out_dir / "morph.gif", list(self.out["morph"]), self.fps, self.invert)
            if "mp4" in self.morph_formats:
                save_mp4(out_dir / "morph.mp4", list(self.out["morph"]), self.fps, self.invert)
            m["morph_frames"] = len(self.out["morph"])
        with torch.no_grad():  # the renders are inference tensors
            if self.classifier is not None:
                m.update(class_scores(self.classifier, self.out["scored"], self.out["y"], self.per_class))
                # the random-z grid has no intended class: which digits does it make, how evenly?
                m.update(random_scores(self.classifier, self.out["random_grid"]))
                other = next((k for k in self.out if k.startswith("random_grid_")), None)
                if other:
                    m.update(random_scores(self.classifier, self.out[other], "random_" + other.split("_")[-1]))
            # the big renders: complexity, and (with a classifier) do they still read when shrunk?
            m.update(render_scores(self.classifier, self.out["digits"], self.train_size))
        return m

    def result(self):
        return self.out.get("digits", [None])[0]
