"""Deep correlation critic (Sendik and Cohen-Or, "Deep correlations for texture synthesis",
ACM TOG 2017).

Feature statistics (Gram, sliced, patches) are local: nothing in them says that a brick row
runs on for the whole image or that a weave repeats every 40 px. Each channel's
autocorrelation does: R_c(d) is the mean of f_c(p) f_c(p + d) over the positions p where both
lie in the image, for every shift d up to `span` of the exemplar's side (0.5: half of it).
The image's are matched to the exemplar's, so a period, a row's direction and the spacing of
objects are held at every distance the window spans, at any output size (the means over
overlaps compare images of any size).

Both images are centred on the exemplar's channel means (the other critics hold the means and
the variances), and each channel's autocorrelation is divided by its own variance (R(0)): the
critic compares shapes only, bounded by 1, so a noise start (whose variance is many times the
exemplar's) does not swamp the other critics, and a layer's weight does not depend on its
scale. Computed with zero-padded FFTs: a few milliseconds a layer.
"""

import torch

from synthlab.errors import SynthlabError
from synthlab.losses.critic import Critic


def autocorrelation(f: torch.Tensor, k: int, l: int) -> torch.Tensor:
    """(1, C, H, W) -> (C, 2k+1, 2l+1): mean of f(p) f(p+d) over the overlap, |dy| <= k, |dx| <= l."""
    h, w = f.shape[-2:]
    spec = torch.fft.rfft2(f[0], s=(h + k, w + l))  # zero padding: no wrap-around within the window
    r = torch.fft.irfft2(spec.real ** 2 + spec.imag ** 2, s=(h + k, w + l))
    r = torch.roll(r, shifts=(k, l), dims=(1, 2))[:, :2 * k + 1, :2 * l + 1]
    dy = torch.arange(-k, k + 1, device=f.device, dtype=f.dtype).abs()
    dx = torch.arange(-l, l + 1, device=f.device, dtype=f.dtype).abs()
    return r / torch.outer(h - dy, w - dx)


def normalised(r: torch.Tensor, floor: float) -> torch.Tensor:
    """(C, 2k+1, 2l+1) autocorrelations -> each divided by its value at shift 0 (the variance)
    plus floor: a channel that is nearly flat on the exemplar (a random net has a few) has no shape
    to match."""
    k, l = r.shape[1] // 2, r.shape[2] // 2
    return r / (r[:, k:k + 1, l:l + 1] + floor)


class CorrelationCritic(Critic):
    """weight * mean((R(f) / R_0(f) - R(f_target) / R_0(f_target))^2), summed over the taps."""

    def __init__(self, taps, *, weight: float, span: float):
        super().__init__(taps, weight=weight)
        if not (isinstance(span, (int, float)) and not isinstance(span, bool) and 0 < span < 1):
            raise SynthlabError(f"CorrelationCritic: span must be a fraction of the exemplar's side in (0, 1), "
                                f"got {span!r}")
        self.span = float(span)
        self.means, self.targets, self.window, self.floor = {}, {}, {}, {}

    def set_target(self, feats):
        for t in self.taps:
            f = feats[t].detach().float()
            if f.dim() != 4:
                raise SynthlabError(f"CorrelationCritic: tap {t} is not a feature map (C x H x W)")
            h, w = f.shape[-2:]
            k, l = int(self.span * (h - 1)), int(self.span * (w - 1))
            self.means[t] = f.mean(dim=(2, 3), keepdim=True)
            self.window[t] = (k, l)
            r = autocorrelation(f - self.means[t], k, l)
            self.floor[t] = 0.01 * float(r[:, k, l].mean())
            self.targets[t] = normalised(r, self.floor[t])

    def loss(self, feats):
        total = 0.0
        for t in self.taps:
            f = feats[t].float()
            K, L = self.window[t]
            k, l = min(K, f.shape[2] - 1), min(L, f.shape[3] - 1)  # an output smaller than the window: its shifts
            target = self.targets[t][:, K - k:K + k + 1, L - l:L + l + 1]
            r = normalised(autocorrelation(f - self.means[t], k, l), self.floor[t])
            total = total + (r - target).pow(2).mean()
        return self.weight * total
