"""Spectrum critic (Liu, Gousseau and Xia, "Texture synthesis through convolutional neural
networks and spectrum constraints", ICPR 2016).

Feature statistics are local: nothing in them says that a brick row runs on for the whole
image or that a weave repeats every 40 px. The image's Fourier modulus says exactly that. The
loss is the distance of the image to its projection on the images that have the exemplar's
modulus: per frequency, the exemplar's coefficients turned by the one phase (common to the
three channels, so the colours stay correlated) that brings them closest to the image's.
The projection is held fixed in the gradient, as in the paper: the gradient is x - P(x).

Any output size compares: the exemplar (mean removed, under a Hann window, so its borders add
no cross to the spectrum) is zero-padded to the output's size, which samples its spectrum on
the output's finer frequency grid, and scaled by the ratio of the areas' square roots (a
stationary texture's coefficients grow so). The mean colour (the zero frequency) is left to
the other critics. The FFT is periodic, so a seamless tile needs nothing more.
"""

import torch
import torch.nn.functional as F

from synthlab.errors import SynthlabError
from synthlab.losses.critic import Critic


def windowed(x: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) minus its mean, times a 2-D Hann window scaled to keep its energy."""
    h, w = x.shape[-2:]
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=x.dtype, device=x.device),
                      torch.hann_window(w, periodic=False, dtype=x.dtype, device=x.device))
    win = win / win.pow(2).mean().sqrt()
    return (x - x.mean(dim=(-2, -1), keepdim=True)) * win


class SpectrumCritic(Critic):
    """weight * mean((x - P(x))^2) on each tapped image layer (`image`, `image@2`, ...)."""

    def __init__(self, taps, *, weight: float):
        super().__init__(taps, weight=weight)
        bad = [t for t in self.taps if t.split("@")[0] != "image"]
        if bad:
            raise SynthlabError(f"SpectrumCritic: taps must be the image (image, image@2, ...), got {bad}")
        self.exemplar, self.targets = {}, {}

    def set_target(self, feats):
        self.exemplar = {t: windowed(feats[t].detach().float().contiguous()) for t in self.taps}
        self.targets = {}  # per output size, made on first use

    def target(self, t: str, hw: tuple) -> torch.Tensor:
        """The exemplar's spectrum on an (H, W) image's frequency grid (rfft2 layout)."""
        if (t, hw) not in self.targets:
            e = self.exemplar[t]
            h, w = e.shape[-2:]
            H, W = hw
            if H < h or W < w:  # a smaller output: the exemplar's centre
                top, left = (h - min(h, H)) // 2, (w - min(w, W)) // 2
                e = windowed(e[..., top:top + min(h, H), left:left + min(w, W)])
                h, w = e.shape[-2:]
            spec = torch.fft.rfft2(F.pad(e, (0, W - w, 0, H - h))) * ((H * W) / (h * w)) ** 0.5
            spec[..., 0, 0] = 0  # the mean colour is the other critics' business
            self.targets[(t, hw)] = spec
        return self.targets[(t, hw)]

    def loss(self, feats):
        total = 0.0
        for t in self.taps:
            x = feats[t].float()
            with torch.no_grad():
                X, U = torch.fft.rfft2(x), self.target(t, tuple(x.shape[-2:]))
                cross = (X * U.conj()).sum(dim=1, keepdim=True)  # one phase for the three channels
                turn = cross / cross.abs().clamp_min(1e-12)
                proj = U * turn
                proj[..., 0, 0] = X[..., 0, 0]  # keep the image's own mean
                p = torch.fft.irfft2(proj, s=x.shape[-2:])
            total = total + F.mse_loss(x, p)
        return self.weight * total
