"""Example-based texture synthesis with a random network (Neural Doodle's `random` branch).

The image lives in the network's input space [-1, 1] (doodle.py's x/127.5 - 1). Phases,
evaluation budget and optimiser are the Solver's; the losses are the configured critics (the
`critic` group: Neural Patches plus sliced Wasserstein by default) on the layers they tap,
plus TV smoothness (tv_weight). This module gives the exemplar targets per phase and the noise start.
"""

import torch
import torch.nn.functional as F

from synthlab.data import fit_max_side, load_image, resize
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.losses import active, chroma_detail, taps, tv_loss
from synthlab.losses.patches import fast_bf16
from synthlab.tasks.base import ImageTask, image_size

NOISE = ("rgb", "exemplar", "spot")  # the start: uniform per RGB channel, the exemplar's colour statistics,
# or random-phase spot noise (the exemplar's power spectrum: its period and orientation, none of its layout)
NET_DTYPES = ("float32", "bfloat16", "auto")  # the feature net's convolutions (auto: bf16 where the hardware has it)


class TextureSynthesis(ImageTask):
    value_range = (-1.0, 1.0)

    def __init__(self, net, optim, critics: dict, out_dir, *, exemplar: str, size,
                 exemplar_max_side, phases: int, iterations: int, tv_weight: float, chroma_weight: float,
                 noise: str, noise_range, tileable: bool, evals_per_step: int, frames_every: int,
                 channels_last: bool, net_dtype: str,
                 seed: int, name: str):
        super().__init__(optim, phases, iterations, evals_per_step, frames_every, out_dir, name, seed)
        if not tv_weight >= 0:
            raise SynthlabError(f"task.tv_weight must be >= 0, got {tv_weight}")
        if not chroma_weight >= 0:
            raise SynthlabError(f"task.chroma_weight must be >= 0, got {chroma_weight}")
        self.chroma_weight = chroma_weight
        lo, hi = noise_range
        if not 0 <= lo < hi <= 255:
            raise SynthlabError(f"task.noise_range must satisfy 0 <= lo < hi <= 255, got {list(noise_range)}")
        self.net, self.critics = net, active(critics or {}, "texture", "critic=patches")
        net.check_taps(taps(critics.values()))  # a switched-off critic's layers must exist too
        self.taps = taps(self.critics)
        if noise not in NOISE:
            raise SynthlabError(f"unknown task.noise {noise!r}; choose one of: {', '.join(NOISE)}")
        self.tv_weight, self.noise, self.noise_range = tv_weight, noise, (lo, hi)
        self.channels_last = channels_last
        if net_dtype not in NET_DTYPES:
            raise SynthlabError(f"unknown task.net_dtype {net_dtype!r}; choose one of: {', '.join(NET_DTYPES)}")
        self.net_dtype = net_dtype  # auto is resolved on the device the first features run on
        if channels_last:  # NHWC convs: faster with oneDNN on CPU and tensor cores on GPU
            net.to(memory_format=torch.channels_last)
        full = load_image(exemplar)
        asked = image_size(size)  # None: the output takes the (capped) exemplar's size
        if asked is not None and exemplar_max_side is not None:  # an output asked to be large keeps
            exemplar_max_side = max(exemplar_max_side, *asked)  # the exemplar's scale (expansion)
        ex = fit_max_side(full, exemplar_max_side)
        # a capped exemplar changes the output's scale: metrics.json says by how much
        self.exemplar_scale, self.exemplar_original = ex.shape[-1] / full.shape[-1], list(full.shape[-2:])
        self.register_buffer("exemplar", ex, persistent=False)
        self.size = image_size(size, tuple(ex.shape[-2:]))
        self.tileable = bool(tileable)
        if self.tileable:
            net.wrap()
        self.check_sizes()
        if float(ex.std(dim=(1, 2), correction=0).max()) < 1 / 1024:  # e.g. fully transparent: one colour
            raise SynthlabError(f"exemplar {exemplar} is one flat colour: there is no texture to synthesise "
                                "(its alpha channel is not used)")
        self.check_memory(ex.shape[-2] * ex.shape[-1])

    def check_sizes(self):
        """Every tapped layer must hold its critics' patches (3x3 or more) in every phase, for output and exemplar
        (and the image at least the network's largest filter); a seamless tile's sides, in
        every phase, must be multiples of what each tap downsamples by."""
        least = self.net.min_size
        for layer in self.taps if self.tileable else ():
            m = self.net.period(layer) * 2 ** (self.solver.phases - 1)
            if self.size[0] % m or self.size[1] % m:
                raise SynthlabError(f"task.tileable: the output's sides must be multiples of {m} for {layer} "
                                    f"over {self.solver.phases} phase(s); got {self.size[0]}x{self.size[1]}")
        # each tap must hold its critics' patches: 3x3, or k x k for a sliced critic's patch k
        need = {t: max([3] + [2 * c.reach + 1 for c in self.critics if t in c.taps]) for t in self.taps}
        for what, hw in (("output", self.size), ("exemplar", tuple(self.exemplar.shape[-2:]))):
            h, w = self.solver.phase_size(hw, 0)
            for layer in self.taps:
                fh, fw = self.net.feature_size(h, w, layer)
                ih, iw = self.net.input_size(h, w, layer)  # a tap at @s sees the image pooled by s
                if min(fh, fw) < need[layer] or min(ih, iw) < least:
                    raise SynthlabError(
                        f"{what} {hw[0]}x{hw[1]} is too small: at phase 0 (scale 1/{2 ** (self.solver.phases - 1)}) "
                        f"it is {h}x{w}" + (f", {ih}x{iw} for {layer}," if (ih, iw) != (h, w) else "")
                        + f" and {layer} is {fh}x{fw}, but the critics need {need[layer]}x{need[layer]}"
                        + (f" and the network's largest filter {least}x{least}" if least > 1 else "")
                        + "; use a larger size or fewer phases")

    def features(self, x):
        if self.channels_last:  # the image itself stays contiguous: L-BFGS flattens it with view()
            x = x.contiguous(memory_format=torch.channels_last)
        if self.net_dtype == "auto":
            self.net_dtype = "bfloat16" if fast_bf16(x.device) else "float32"
        if self.net_dtype == "float32":
            return self.net(x, self.taps)
        with torch.autocast(x.device.type, dtype=torch.bfloat16):  # convolutions in bf16, accumulating in fp32
            feats = self.net(x, self.taps)
        return {t: f.float() for t, f in feats.items()}  # the critics work in float32

    def upsample(self, x, size):
        if not self.tileable:
            return super().upsample(x, size)
        p = 2  # bicubic reads 2 pixels each side: pad around the seam, resize, crop
        f = size[0] // x.shape[-2]
        big = super().upsample(F.pad(x, (p, p, p, p), mode="circular"), (size[0] + 2 * p * f, size[1] + 2 * p * f))
        return big[..., p * f: p * f + size[0], p * f: p * f + size[1]]

    def set_targets(self, phase):
        ex = resize(self.exemplar, self.solver.phase_size(tuple(self.exemplar.shape[-2:]), phase))
        self.chroma_target = chroma_detail(ex[None] * 2 - 1)
        feats = self.features(ex[None] * 2 - 1)
        for c in self.critics:
            c.set_target(feats)

    def initial_image(self, h, w):
        gen = torch.Generator().manual_seed(self.seed + 1)
        if self.noise == "exemplar":  # the exemplar's mean and colour covariance: grey stays grey
            px = self.exemplar.double().flatten(1).T.cpu()  # (N, 3) in [0, 1]
            mean = px.mean(0)
            val, vec = torch.linalg.eigh(torch.cov(px.T))
            z = torch.randn(h * w, 3, generator=gen, dtype=torch.float64)
            x = mean + (z * val.clamp(min=0).sqrt()) @ vec.T
            return (x.T.reshape(1, 3, h, w).float().clamp(0, 1)) * 2 - 1
        if self.noise == "spot":
            return spot_noise(resize(self.exemplar, self.solver.phase_size(tuple(self.exemplar.shape[-2:]), 0)),
                              h, w, gen).clamp(0, 1) * 2 - 1
        lo, hi = self.noise_range  # independent uniform noise per RGB channel (doodle.py)
        return torch.rand(1, 3, h, w, generator=gen) * (hi - lo) / 127.5 + (lo / 127.5 - 1)

    def loss(self):
        feats = self.features(self.image)
        loss = sum(c.loss(self.around_seam(feats, c.reach)) for c in self.critics)
        if self.tv_weight:
            loss = loss + self.tv_weight * tv_loss(self.image, wrap=self.tileable)
        if self.chroma_weight:  # only what exceeds the exemplar's own fine colour detail
            excess = chroma_detail(self.image, self.tileable) - self.chroma_target
            loss = loss + self.chroma_weight * excess.clamp(min=0)
        return loss

    def around_seam(self, feats: dict, reach: int) -> dict:
        """A seamless tile's features padded circularly by a critic's reach, so its patches
        across the edges are compared too (the exemplar's, the targets, are not)."""
        if not self.tileable or not reach:
            return feats
        return {t: F.pad(f, (reach,) * 4, mode="circular") for t, f in feats.items()}

    def save_outputs(self, text: dict) -> dict:
        """Write texture.png (config in its PNG text) and exemplar.png (the exemplar as used, at
        its cap: reports show the two side by side); return the quality metrics."""
        from synthlab.metrics import copy_shares, grain_ratio, swd, swd_floor
        from synthlab.metrics.tiles import seam_ratio, tiled

        img, ex = self.result(), self.exemplar.float().cpu()
        save_png(self.out_dir / "exemplar.png", ex)
        save_png(self.out_dir / "texture.png", img, text)
        if self.tileable:
            save_png(self.out_dir / "tiled_3x3.png", tiled(img))
        s, floor = swd(img, ex), swd_floor(ex)
        stats = {k: v for c in self.critics for k, v in c.stats().items()}
        return {"swd": s["mean"], "swd_band": s["band"], "swd_floor": floor["mean"], "swd_band_floor": floor["band"],
                "swd_levels": s["levels"], **copy_shares(img, ex), **grain_ratio(img, ex), **self.run_stats(),
                "exemplar_size": list(ex.shape[-2:]), "exemplar_original_size": self.exemplar_original,
                "exemplar_scale": self.exemplar_scale, "seam_ratio": seam_ratio(img), "net_dtype": self.net_dtype,
                **stats}


def spot_noise(ex, h, w, gen):
    """Asymptotic discrete spot noise (Galerne, Gousseau & Morel 2011): one white Gaussian field
    circularly convolved with the exemplar's mean-free, normalised copy (zero-padded), for all three
    channels. Its autocorrelation is the exemplar's: a lattice keeps its period and orientation,
    colours their covariance, but phases are random, so no piece of the exemplar's layout is copied."""
    _, eh, ew = ex.shape
    H, W = max(h, eh), max(w, ew)  # the canvas holds the whole spot; the output is its corner
    mean = ex.mean(dim=(1, 2), keepdim=True)
    spot = F.pad((ex - mean).double() / (eh * ew) ** 0.5, (0, W - ew, 0, H - eh))
    z = torch.randn(1, H, W, generator=gen, dtype=torch.float64)
    t = torch.fft.irfft2(torch.fft.rfft2(spot) * torch.fft.rfft2(z), s=(H, W))
    return (mean.double() + t)[None, :, :h, :w].float()
