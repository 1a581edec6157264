"""Pieces every network shares: extra activations, initialisers and downsampling steps.

Config groups `network/activation`, `network/init` and `network/downsampling` instantiate
these (or torch.nn classes) as partials, so each task builds layers the same way.
"""

import torch
from torch import nn

from synthlab.errors import SynthlabError


class Sin(nn.Module):
    """sin(freq * x): periodic activation used by CPPNs."""

    def __init__(self, freq: float = 1.0):
        super().__init__()
        self.freq = freq

    def forward(self, x):
        return torch.sin(self.freq * x)


# --- initialisers --------------------------------------------------------------------------
# Each is called as init(layer, generator) on every Conv/Linear layer. Weights are drawn from
# the run's own torch.Generator so the network depends on the seed alone, not on global RNG use.


class Init:
    """Base initialiser. `bias`: 'zero' (Lasagne's default), 'same' (drawn like the weights, as
    hardmaru's CPPNs do) or a number: the std of a normal draw (Caffe's gaussian bias filler)."""

    bias_same_ok = False

    def __init__(self, bias="zero"):
        if not (bias in ("zero", "same") or (isinstance(bias, (int, float)) and bias >= 0)):
            raise SynthlabError(f"init bias must be 'zero', 'same' or a std >= 0, got {bias!r}")
        if bias == "same" and not self.bias_same_ok:
            raise SynthlabError(f"{type(self).__name__} cannot draw biases like weights; use bias=zero")
        self.bias = bias

    def draw(self, t: torch.Tensor, gen: torch.Generator) -> None:
        raise NotImplementedError

    def draw_bias(self, b: torch.Tensor, gen: torch.Generator) -> None:
        if self.bias == "same":
            self.draw(b, gen)
        elif self.bias == "zero" or self.bias == 0:
            b.zero_()
        else:
            nn.init.normal_(b, 0.0, float(self.bias), generator=gen)

    def __call__(self, layer: nn.Module, gen: torch.Generator) -> None:
        with torch.no_grad():
            self.draw(layer.weight, gen)
            if layer.bias is not None:
                self.draw_bias(layer.bias, gen)


class GlorotUniform(Init):
    """U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)): Lasagne's GlorotUniform."""

    def __init__(self, gain: float = 1.0, bias: str = "zero"):
        super().__init__(bias)
        self.gain = gain

    def draw(self, t, gen):
        nn.init.xavier_uniform_(t, gain=self.gain, generator=gen)


class Orthogonal(Init):
    def __init__(self, gain: float = 1.0, bias: str = "zero"):
        super().__init__(bias)
        self.gain = gain

    def draw(self, t, gen):
        nn.init.orthogonal_(t, gain=self.gain, generator=gen)


class Normal(Init):
    bias_same_ok = True

    def __init__(self, std: float = 1.0, bias: str = "zero"):
        super().__init__(bias)
        if std <= 0:
            raise SynthlabError(f"init std must be positive, got {std}")
        self.std = std

    def draw(self, t, gen):
        nn.init.normal_(t, 0.0, self.std, generator=gen)


class Uniform(Init):
    bias_same_ok = True

    def __init__(self, bound: float = 1.0, bias: str = "zero"):
        super().__init__(bias)
        if bound <= 0:
            raise SynthlabError(f"init bound must be positive, got {bound}")
        self.bound = bound

    def draw(self, t, gen):
        nn.init.uniform_(t, -self.bound, self.bound, generator=gen)


class Msra(Init):
    """He / Caffe 'msra': N(0, gain^2 * 2 / fan_in)."""

    def __init__(self, gain: float = 1.0, bias="zero"):
        super().__init__(bias)
        self.gain = gain

    def draw(self, t, gen):
        nn.init.kaiming_normal_(t, nonlinearity="relu", generator=gen)
        t.mul_(self.gain)


class TorchDefault(Init):
    """PyTorch's own reset_parameters (kaiming-uniform, fan-in biases), seeded from `gen`."""

    bias_same_ok = True  # 'same' keeps PyTorch's own bias draw

    def __call__(self, layer, gen):
        seed = int(torch.randint(0, 2**62, (1,), generator=gen))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layer.reset_parameters()
        if self.bias != "same" and layer.bias is not None:
            with torch.no_grad():
                self.draw_bias(layer.bias, gen)


def init_layers(module: nn.Module, init, seed: int) -> nn.Module:
    """Apply `init` to every Conv/Linear layer in module order, from one generator seeded by `seed`."""
    gen = torch.Generator().manual_seed(int(seed))
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, Dense)):
            init(m, gen)
    return module


class Dense(nn.Module):
    """A linear layer on channels-first points: (B, C_in, N) -> (B, C_out, N). CPPNs evaluate
    millions of points through narrow layers, and this layout keeps each channel contiguous."""

    def __init__(self, c_in: int, c_out: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c_out, c_in))
        self.bias = nn.Parameter(torch.zeros(c_out)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        nn.Linear.reset_parameters(self)  # same draws as nn.Linear (weight, then bias)

    @property
    def in_features(self):
        return self.weight.shape[1]

    def forward(self, x):
        # one plain mm whatever the batch: bmm and mm accumulate in different orders, and
        # chaotic nets (N(0, 1) weights) amplify that ulp into visible tile/batch seams
        mm = torch.mm if self.bias is None else (lambda w, v: torch.addmm(self.bias[:, None], w, v))
        if x.dim() == 2:  # (C, N): points shared by every image
            return mm(self.weight, x)
        if x.shape[2] == 1:  # one vector per image (z): a fixed-order sum, same for any batch
            y = sum(self.weight[None, :, k:k + 1] * x[:, k:k + 1] for k in range(x.shape[1]))
            return y if self.bias is None else y + self.bias[:, None]
        b, c, n = x.shape
        y = mm(self.weight, x.transpose(0, 1).reshape(c, b * n) if b > 1 else x[0])
        return y.reshape(-1, b, n).transpose(0, 1)  # a view: the next layer's transpose is free


def run_taps(named_layers, x, want: set, out: dict):
    """Run (name, layer) pairs in order, keeping the outputs named in `want` in `out`.
    Returns the last output, or None once every tap is filled (nothing deeper is computed)."""
    for name, layer in named_layers:
        x = layer(x)
        if name in want:
            out[name] = x
            if len(out) == len(want):
                return None
    return x


# --- downsampling ----------------------------------------------------------------------------
# Called as downsampling(c_in, c_out): a module that halves H and W and maps c_in -> c_out.


class StridedConv(nn.Conv2d):
    """2x2 convolution, stride 2, no padding (Neural Doodle's random branch)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, kernel_size=2, stride=2)


class PoolConv(nn.Sequential):
    """2x2 pooling (avg or max), then a 3x3 convolution."""

    pools = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}

    def __init__(self, c_in: int, c_out: int, pool: str = "avg"):
        if pool not in self.pools:
            raise SynthlabError(f"pool must be one of {sorted(self.pools)}, got {pool!r}")
        super().__init__(self.pools[pool](2), nn.Conv2d(c_in, c_out, 3, padding=1))
