"""Compositional pattern-producing networks: a colour for every coordinate (x, y, r) and latent z.

Points are channels-first, (inputs, N), so one image of any size is a stream of tiles of N
points (synthlab.render). The input layer is split in two, exactly as hardmaru's `U =
FC(z) + FC(x) + FC(y) + FC(r)`: the coordinate part is shared by every image of a batch and
the z part (with the bias) is computed once per image, not once per pixel.
"""

import torch
from torch import nn

from synthlab.errors import SynthlabError
from synthlab.memory import require_layers, require_params
from synthlab.nets import fused
from synthlab.nets.layers import Dense, Normal, init_layers


def flat_input(coord_in, z_in, pts, z):
    """The input layer on every (image, point) pair as one contiguous (width, B * N) matrix, so
    each later layer is a single addmm: FC(x, y, r) once for the points, FC(z) once per image."""
    h = coord_in(pts)  # (width, N)
    if z_in is None:
        return h, 1
    zp = z_in(z[:, :, None])[:, :, 0]  # (B, width)
    return (h[:, None, :] + zp.t()[:, :, None]).reshape(h.shape[0], -1), z.shape[0]


def unflat(y: torch.Tensor, b: int) -> torch.Tensor:
    """(C, B * N) -> (B, C, N)."""
    return y.reshape(y.shape[0], b, -1).transpose(0, 1)


class Coords:
    """Pixel indices -> CPPN inputs.

    mode `symmetric` (hardmaru): x_i = scale * (i - (n-1)/2) / ((n-1)/2), so [-scale, scale]
    inclusive; `centered` (Paras Chopra): scale * (i/n - 0.5); `pixel`: the raw index i.
    `zoom` multiplies the coordinates (0.01 zooms far in). r = sqrt(x^2 + y^2)."""

    modes = ("symmetric", "centered", "pixel")

    def __init__(self, mode: str = "symmetric", scale: float = 1.0, zoom: float = 1.0, use_r: bool = True):
        if mode not in self.modes:
            raise SynthlabError(f"unknown coordinate mode {mode!r}; choose one of: {', '.join(self.modes)}")
        self.mode, self.scale, self.zoom, self.use_r = mode, float(scale), float(zoom), use_r

    @property
    def dim(self):
        return 3 if self.use_r else 2

    def axis(self, n: int, lo: int = 0, hi: int | None = None, device=None) -> torch.Tensor:
        i = torch.arange(lo, n if hi is None else hi, device=device, dtype=torch.float64)
        if self.mode == "symmetric":
            v = (i - (n - 1) / 2) / ((n - 1) / 2) * self.scale if n > 1 else i * 0
        elif self.mode == "centered":
            v = (i / n - 0.5) * self.scale
        else:
            v = i
        return (v * self.zoom).float()

    def points(self, h: int, w: int, row0: int, row1: int, device=None) -> torch.Tensor:
        """Inputs of rows [row0, row1), row-major: (dim, (row1-row0) * w)."""
        y = self.axis(h, row0, row1, device)[:, None].expand(-1, w)
        x = self.axis(w, device=device)[None, :].expand(row1 - row0, -1)
        pts = [x.reshape(-1), y.reshape(-1)]
        if self.use_r:
            pts.append(torch.sqrt(pts[0] ** 2 + pts[1] ** 2))
        return torch.stack(pts)


class CPPN(nn.Module):
    """MLP: input layer, `depth` hidden layers (all with `activation`), output layer and activation.

    width schedule `constant`, or `halving` (width, width/2, ... >= 1: Paras Chopra's
    'Neuro-pollock'). bias: `all` layers, `first` (input layer only, as Chopra) or `none`.
    kernel: `auto` renders on the fused CPU kernel (synthlab.nets.fused, cppn.cc) wherever it
    can (CPU, float32, no gradient, an activation it has) and torch's ops elsewhere; `fused` or
    `torch` force one."""

    kernels = ("auto", "fused", "torch")

    def __init__(self, activation, init, out_activation, *, depth: int, width: int,
                 schedule: str, channels: int, in_dim: int, z_dim: int,
                 bias: str, z_scale: float, in_activation, kernel: str, seed: int):
        super().__init__()
        if kernel not in self.kernels:
            raise SynthlabError(f"unknown network.kernel {kernel!r}; choose one of: {', '.join(self.kernels)}")
        if depth < 0 or width < 1 or channels < 1 or z_dim < 0:
            raise SynthlabError(f"network depth >= 0, width >= 1, channels >= 1 and z_dim >= 0 needed, "
                                f"got {depth}, {width}, {channels}, {z_dim}")
        if schedule not in ("constant", "halving"):
            raise SynthlabError(f"network.schedule must be constant or halving, got {schedule!r}")
        if bias not in ("all", "first", "none"):
            raise SynthlabError(f"network.bias must be all, first or none, got {bias!r}")
        require_layers(depth + 1, "network=cppn")
        widths = [width if schedule == "constant" else max(1, width >> i) for i in range(depth + 1)]
        require_params((in_dim + z_dim) * widths[0] + sum(a * b for a, b in zip(widths, widths[1:]))
                       + widths[-1] * channels, "network=cppn")
        self.in_dim, self.z_dim, self.channels = in_dim, z_dim, channels
        self.coord_in = Dense(in_dim, widths[0], bias=bias != "none" and z_dim == 0)
        self.z_in = Dense(z_dim, widths[0], bias=bias != "none") if z_dim else None
        hid = bias == "all"
        self.hidden = nn.ModuleList(Dense(a, b, bias=hid) for a, b in zip(widths[:-1], widths[1:]))
        self.out = Dense(widths[-1], channels, bias=hid)
        self.act, self.out_act = activation(), out_activation()
        self.in_act = in_activation() if in_activation is not None else self.act  # P: softplus input
        self.z_scale, self.kernel = z_scale, kernel
        if kernel == "fused" and (why := fused.cannot_build(self)):
            raise SynthlabError(f"network.kernel=fused cannot run this CPPN: {why}; use network.kernel=auto")
        self._init = init
        self.redraw(seed)

    def redraw(self, seed: int) -> None:
        """Draw all weights again from `seed` (weight-interpolation animations use two draws)."""
        init_layers(self, self._init, seed)

    def forward(self, pts: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """pts (in_dim, N), z (B, z_dim) -> (B, channels, N)."""
        if self.kernel == "fused" or (self.kernel == "auto" and not torch.compiler.is_compiling()
                                      and fused.cannot_run(self, pts) is None):
            return fused.cppn(self, pts, z)
        h, b = flat_input(self.coord_in, self.z_in, pts, None if z is None else z * self.z_scale)
        h = self.in_act(h)  # tanh by default, as in every reference
        for layer in self.hidden:
            h = self.act(layer(h))
        return unflat(self.out_act(self.out(h)), b)


class ResidualCPPN(nn.Module):
    """hardmaru's resnet-cppn-gan generator: tanh(FC(z) + FC(x) + FC(y) + FC(r)), then `blocks`
    residual blocks of `sub_depth` relu layers and a tanh gate (identity skips), sigmoid output.

    Init as the reference: weights and biases N(0, std); std_in for the input and output FCs,
    std_relu for the relu layers, std_gate for the gates (so each block starts near identity).
    z is multiplied by z_scale (8, the training coordinate scale). z_blocks: z also enters each
    block's first relu layer, as a per-image bias FC_k(z) (zero at init, so the net starts as
    the post's): through the input layer alone z reaches the picture in `width` directions
    (rank width), through every block in blocks x width. kernel: `auto` runs the fused
    CPU kernel (synthlab.nets.fused) where it can and torch's ops elsewhere; `fused` or `torch`
    force one."""

    kernels = ("auto", "fused", "torch")

    def __init__(self, *, blocks: int, width: int, sub_depth: int, channels: int,
                 in_dim: int, z_dim: int, z_scale: float, std_in: float,
                 std_relu: float, std_gate: float, z_blocks: bool, kernel: str, seed: int):
        super().__init__()
        if kernel not in self.kernels:
            raise SynthlabError(f"unknown network.kernel {kernel!r}; choose one of: {', '.join(self.kernels)}")
        if min(blocks, width, sub_depth, channels, z_dim) < 1:
            raise SynthlabError("resnet_cppn needs blocks, width, sub_depth, channels and z_dim >= 1")
        if not isinstance(z_blocks, bool):
            raise SynthlabError(f"network.z_blocks is true or false, got {z_blocks!r}")
        require_layers(blocks * (sub_depth + 1), "network=resnet_cppn")
        require_params(blocks * (sub_depth + 1) * width * (width + 1) + (in_dim + z_dim + channels) * width
                       + (z_dim * blocks * width if z_blocks else 0), "network=resnet_cppn")
        self.in_dim, self.z_dim, self.channels, self.z_scale = in_dim, z_dim, channels, z_scale
        self.width, self.kernel = width, kernel
        # what a checkpoint needs to rebuild this net exactly (gan_sample), the weights aside
        self.shape = dict(blocks=blocks, width=width, sub_depth=sub_depth, channels=channels, in_dim=in_dim,
                          z_dim=z_dim, z_scale=float(z_scale), std_in=std_in, std_relu=std_relu, std_gate=std_gate,
                          z_blocks=bool(z_blocks))
        self.coord_in = Dense(in_dim, width, bias=False)
        self.z_in = Dense(z_dim, width)
        self.blocks = nn.ModuleList(
            nn.ModuleList([Dense(width, width) for _ in range(sub_depth)] + [Dense(width, width)])
            for _ in range(blocks))
        self.out = Dense(width, channels)
        self.z_block = Dense(z_dim, blocks * width, bias=False) if z_blocks else None  # the blocks' own biases stay
        self.stds = (std_in, std_relu, std_gate)
        self.redraw(seed)

    def redraw(self, seed: int) -> None:
        std_in, std_relu, std_gate = self.stds
        gen = torch.Generator().manual_seed(int(seed))
        for m in (self.coord_in, self.z_in):
            Normal(std_in, bias="same")(m, gen)
        for block in self.blocks:
            for m in block[:-1]:
                Normal(std_relu, bias="same")(m, gen)
            Normal(std_gate, bias="same")(block[-1], gen)
        Normal(std_in, bias="same")(self.out, gen)
        if self.z_block is not None:  # drawn last and zero: the other weights are the post's draws
            nn.init.zeros_(self.z_block.weight)

    def block_bias(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, z_dim) -> (B, blocks, width): z's bias on each block's first layer."""
        return self.z_block((z * self.z_scale)[:, :, None])[:, :, 0].view(z.shape[0], len(self.blocks), self.width)

    def fused_on(self, pts: torch.Tensor) -> bool:
        """Whether forward runs the fused kernel on these points (never inside torch.compile,
        which compiles torch's ops: the kernel is opaque to it)."""
        if torch.compiler.is_compiling():
            return False
        return self.kernel == "fused" or (self.kernel == "auto" and fused.usable(self, pts))

    def forward(self, pts: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.fused_on(pts):
            return fused.residual_cppn(self, pts, z)
        h, b = flat_input(self.coord_in, self.z_in, pts, z * self.z_scale)
        h = torch.tanh(h)
        zb = self.block_bias(z) if self.z_block is not None else None
        for k, block in enumerate(self.blocks):
            g = h
            for i, layer in enumerate(block[:-1]):
                g = layer(g)
                if i == 0 and zb is not None:  # (W, B * N), image-major: each image's bias on its points
                    g = (g.view(self.width, b, -1) + zb[:, k].t()[:, :, None]).view(self.width, -1)
                g = torch.relu(g)
            h = h + torch.tanh(block[-1](g))
        return unflat(torch.sigmoid(self.out(h)), b)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())

