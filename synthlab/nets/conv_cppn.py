"""A random conv net that warps a 2-channel 'slope' image (Feng Wang, "Visualize the Complexity
of Neural Networks"): per layer a valid convolution, spatial normalisation of each channel over
the whole image with a scale and a random shift, and the activation; then a 1x1 conv to 3."""

import torch
from torch import nn

from synthlab.errors import SynthlabError
from synthlab.memory import require_layers, require_params
from synthlab.nets.layers import init_layers


def slope(h: int, w: int) -> torch.Tensor:
    """(1, 2, h, w): channel 1 = row/h - 0.5, channel 2 = col/w - 0.5."""
    y = (torch.arange(h, dtype=torch.float32) / h - 0.5)[:, None].expand(h, w)
    x = (torch.arange(w, dtype=torch.float32) / w - 0.5)[None, :].expand(h, w)
    return torch.stack([y, x])[None]


class ConvCPPN(nn.Module):
    def __init__(self, activation, init, *, layers: int, channels: int, kernel: int,
                 norm_scale: float, norm_shift_std: float, out_channels: int, seed: int):
        super().__init__()
        if layers < 1 or channels < 1 or kernel not in (1, 3):
            raise SynthlabError(f"conv_cppn needs layers >= 1, channels >= 1 and kernel 1 or 3, "
                                f"got {layers}, {channels}, {kernel}")
        require_layers(layers, "network=conv_cppn")
        require_params(layers * channels * channels * kernel * kernel, "network=conv_cppn")
        self.kernel, self.norm_scale = kernel, norm_scale
        self.convs = nn.ModuleList(nn.Conv2d(2 if i == 0 else channels, channels, kernel) for i in range(layers))
        self.out = nn.Conv2d(channels, out_channels, 1)
        self.act = activation()
        init_layers(self, init, seed)
        with torch.no_grad():
            self.out.bias.zero_()  # the reference's output conv has no bias
        gen = torch.Generator().manual_seed(int(seed) + 1)
        self.register_buffer("shift", torch.randn(layers, channels, generator=gen) * norm_shift_std)
        self.requires_grad_(False)

    def shrink(self) -> int:
        """Pixels lost per side by the valid convolutions."""
        return (self.kernel // 2) * len(self.convs)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, shift in zip(self.convs, self.shift):
            x = conv(x)
            mean = x.mean(dim=(2, 3), keepdim=True)
            std = x.std(dim=(2, 3), keepdim=True).clamp_min(1e-8)
            x = self.act((x - mean) / std * self.norm_scale + shift[None, :, None, None])
        return self.out(x)
