"""The random multiscale shallow network of Ustyuzhaninov, Brendel, Gatys and Bethge ("What
does it take to generate natural textures?", ICLR 2017): one layer of random filters at several
sizes (3 to 55 px, 128 maps each, ReLU), never trained. With the Gram critic it is the
published random-network baseline (experiment=random_multiscale).

All maps share one grid and one tap, `conv1`, holds them all. `padding: valid` crops every size
to the largest filter's valid region (H-K+1); its border pixels are seen by few filter
positions and stay noisy in a synthesis. `circular` (the default) wraps the image, so every
pixel counts the same and the output tiles. Big filters are costly as direct
convolutions on a CPU; `conv: fft` computes the same cross-correlation with one FFT of the
image against the filter banks embedded in a K x K frame (K = the largest size); its cost does
not grow with the filter, so `auto` sends the sizes >= 15 through it and the small ones through
direct convolution (measured in `synthlab bench texture`).
"""

import torch
import torch.nn.functional as F
from torch import nn

from synthlab.errors import SynthlabError
from synthlab.memory import require_params
from synthlab.nets.features import FeatureNet
from synthlab.nets.layers import init_layers

CONVS = ("auto", "direct", "fft")
FFT_FROM = 15  # auto: FFT once the largest filter is at least this wide


class RandomMultiscaleNet(FeatureNet):
    names = ["conv1"]
    label = "network=random_multiscale"

    def __init__(self, activation, init, *, sizes, maps: int,
                 conv: str, padding: str, seed: int, in_channels: int):
        super().__init__()
        sizes = [int(k) for k in sizes]
        if not sizes or min(sizes) < 1 or any(k % 2 == 0 for k in sizes):
            raise SynthlabError(f"network.sizes must be odd filter widths >= 1, got {sizes}")
        if maps < 1:
            raise SynthlabError(f"network.maps must be >= 1, got {maps}")
        if conv not in CONVS:
            raise SynthlabError(f"network.conv must be one of {list(CONVS)}, got {conv!r}")
        if padding not in ("valid", "circular"):
            raise SynthlabError(f"network.padding must be one of ['valid', 'circular'], got {padding!r}")
        require_params(sum(in_channels * maps * k * k for k in sizes), "network=random_multiscale")
        self.sizes, self.K, self.padding = sizes, max(sizes), padding
        self.by_fft = [conv == "fft" or (conv == "auto" and k >= FFT_FROM) for k in sizes]
        self.convs = nn.ModuleList(nn.Conv2d(in_channels, maps, k) for k in sizes)
        init_layers(self, init, seed)
        self.act = activation()
        self.requires_grad_(False)
        self._bank = {}  # (H, W, device, dtype) -> FFT of the embedded filter bank

    @property
    def min_size(self) -> int:
        """Input side the largest filter needs (feature nets declare it)."""
        return self.K

    def layer_size(self, h: int, w: int, layer: str):
        return (h, w) if self.padding == "circular" else (h - self.K + 1, w - self.K + 1)

    def embedded(self, convs) -> torch.Tensor:
        """These filters centred in K x K frames: (maps * len(convs), C, K, K)."""
        out = []
        for conv in convs:
            k = conv.kernel_size[0]
            o = (self.K - k) // 2
            out.append(F.pad(conv.weight, (o, self.K - k - o, o, self.K - k - o)))
        return torch.cat(out)

    def direct(self, x, conv):
        h, w = self.layer_size(*x.shape[-2:], "conv1")
        if self.padding == "circular":
            x = F.pad(x, (self.K // 2,) * 4, mode="circular")
        o = (self.K - conv.kernel_size[0]) // 2
        return conv(x)[..., o:o + h, o:o + w]

    def fft(self, x, convs):
        H, W = x.shape[-2:]
        h, w = self.layer_size(H, W, "conv1")
        key = (H, W, x.device, x.dtype)
        if key not in self._bank:
            # (C, M, H, W//2+1), one channel contiguous: the product below streams through it
            bank = torch.fft.rfft2(self.embedded(convs).to(x), s=(H, W)).conj().transpose(0, 1).contiguous()
            self._bank = {key: bank}  # one size at a time: a phase change replaces it
        # cross-correlation = product with the conjugate spectrum; rows/cols [0, H-K] do not wrap
        fx, bank = torch.fft.rfft2(x), self._bank[key]
        y = sum(fx[:, c, None] * bank[c] for c in range(len(bank)))
        y = torch.fft.irfft2(y, s=(H, W))
        if self.padding == "circular":  # window i starts at pixel i; centre it
            y = y.roll((self.K // 2, self.K // 2), dims=(-2, -1))
        bias = torch.cat([c.bias for c in convs])
        return y[..., :h, :w] + bias[:, None, None]

    def wrap(self) -> None:
        if self.padding != "circular":  # valid padding crops: its features cannot wrap around
            raise SynthlabError("task.tileable needs network.padding=circular for network=random_multiscale")

    def compute(self, x: torch.Tensor, names):
        h, w = x.shape[-2:]
        if min(h, w) < self.K:
            raise SynthlabError(f"a {x.shape[-2]}x{x.shape[-1]} image is smaller than the largest "
                                f"filter ({self.K}x{self.K}) of network=random_multiscale")
        x = x.contiguous()
        by_fft = [c for c, f in zip(self.convs, self.by_fft) if f]
        maps = [self.direct(x, c) for c, f in zip(self.convs, self.by_fft) if not f]
        if by_fft:  # maps come in size order: direct sizes are all smaller than FFT ones
            maps.append(self.fft(x, by_fft))
        return {"conv1": self.act(torch.cat(maps, 1))}
