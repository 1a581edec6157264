"""The classifier-discriminator of resnet-cppn-gan: three 5x5 stride-2 convs (32, 64, 128) with
leaky relu 0.2 and batch norm on the last two, then a linear layer to `classes` logits
(11 for the GAN: digits 0-9 and class 10 = fake; 10 for the plain MNIST classifier that
scores the GAN's class consistency). The GAN's batch norm uses the batch's own statistics, as the
reference's `batch_norm` does (its moving averages are never used); the scoring classifier's keeps
running statistics and reads them in eval mode (`running_stats`), so that a digit's score does
not depend on the digits scored beside it. Weights and inputs are
channels-last: oneDNN's 5x5 stride-2 convolutions run faster so on the CPU (`synthlab bench
gan` measures it), with the same results to float rounding."""

import torch
from torch import nn

from synthlab.nets.layers import Normal, init_layers


class Discriminator(nn.Module):
    def __init__(self, classes: int = 11, size: int = 26, width: int = 32, seed: int = 0, running_stats: bool = False):
        super().__init__()
        s = size
        for _ in range(3):
            s = (s + 1) // 2  # 'SAME' padding, stride 2
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, 2, 2), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 5, 2, 2), nn.BatchNorm2d(2 * width, track_running_stats=running_stats),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * width, 4 * width, 5, 2, 2), nn.BatchNorm2d(4 * width, track_running_stats=running_stats),
            nn.LeakyReLU(0.2), nn.Flatten())
        self.head = nn.Linear(4 * width * s * s, classes)
        init_layers(self, Normal(0.02), seed)
        gen = torch.Generator().manual_seed(int(seed) + 7)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):  # gamma ~ N(1, 0.02), beta 0
                    m.weight.copy_(1 + 0.02 * torch.randn(m.weight.shape, generator=gen))
                    m.bias.zero_()
        self.layout(torch.channels_last)

    def layout(self, memory_format) -> "Discriminator":
        """Keep weights and inputs in `memory_format` (the bench measures both)."""
        self.memory_format = memory_format
        return self.to(memory_format=memory_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.contiguous(memory_format=self.memory_format)))
