"""The VAE encoder of resnet-cppn-gan: flatten -> softplus(512) -> dropout -> softplus(512) ->
dropout -> mean and log-variance heads. Init W ~ N(0, 0.02), b = 0 (the reference's `linear`)."""

import torch
from torch import nn

from synthlab.nets.layers import Normal, init_layers


class Encoder(nn.Module):
    def __init__(self, pixels: int, hidden: int, z_dim: int, keep_prob: float, seed: int = 0):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(pixels, hidden), nn.Softplus(), nn.Dropout(1 - keep_prob),
                                  nn.Linear(hidden, hidden), nn.Softplus(), nn.Dropout(1 - keep_prob))
        self.mean, self.logvar = nn.Linear(hidden, z_dim), nn.Linear(hidden, z_dim)
        init_layers(self, Normal(0.02), seed)

    def forward(self, x: torch.Tensor):
        h = self.body(x)
        return self.mean(h), self.logvar(h)

    @staticmethod
    def sample(mean, logvar, gen=None):
        eps = torch.randn(mean.shape, generator=gen, device=mean.device) if gen is not None else torch.randn_like(mean)
        return mean + torch.exp(0.5 * logvar) * eps
