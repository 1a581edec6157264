"""Random CPPNs rendered at any resolution, stills and animations (seeds 001, 002, 003).

Nothing is trained: the module's predict_step renders a batch of frames through the shared
tiled renderer, so Lightning places it on the configured device. Every run logs the
complexity measures of its first still (and their mean over all stills).
"""

import copy
import time
from pathlib import Path

import torch

from synthlab.checks import animation_kind
from synthlab.errors import SynthlabError
from synthlab.io import save_png
from synthlab.metrics import complexity
from synthlab.nets.cppn import Coords, n_params
from synthlab.render import check_size, compiled, render, save_gif, save_mp4, timeline
from synthlab.tasks.base import Task, image_size, steps_loader


class CPPNTask(Task):
    trains = False

    def __init__(self, net, out_dir, *, size, coords: str, scale: float,
                 zoom: float, z_dist: str, z_scale: float, z, images: int,
                 animation, tile: int, invert: bool, compile: bool, seed: int,
                 name: str):
        super().__init__(out_dir, name, seed)
        self.net, self.size, self.images, self.tile, self.invert = net, image_size(size), images, tile, invert
        self.forward_fn = compiled(net) if compile else None  # what render() evaluates (None: the net)
        self.coords = Coords(coords, scale, zoom, use_r=net.in_dim == 3)
        self.anim = dict(animation or {})
        self.kind = animation_kind(self.anim.get("kind", "none"))
        if images < 1:
            raise SynthlabError(f"task.images must be >= 1, got {images}")
        check_size(*self.size, net.channels, images)
        gen = torch.Generator().manual_seed(int(seed) + 2)
        zd = net.z_dim
        n_z = images + (1 if self.kind == "morph" else 0)
        if z is not None:
            z = torch.as_tensor(list(z), dtype=torch.float32)
            if z.numel() != zd:
                raise SynthlabError(f"task.z has {z.numel()} values but the network's z_dim is {zd}")
            zs = z[None].repeat(n_z, 1)
            zs[1:] = self._draw(z_dist, (n_z - 1, zd), gen)
        else:
            zs = self._draw(z_dist, (n_z, zd), gen)
        self.register_buffer("zs", zs * z_scale, persistent=False)
        self.frames, self.stills, self.render_seconds = [], [], 0.0
        self.other = None  # the second draw of the net, for weights animations
        self.jobs = self._plan()

    @staticmethod
    def _draw(dist, shape, gen):
        if dist == "normal":
            return torch.randn(*shape, generator=gen)
        if dist == "uniform":
            return torch.rand(*shape, generator=gen) * 2 - 1
        raise SynthlabError(f"unknown z distribution {dist!r}; choose normal or uniform")

    def _plan(self):
        """Jobs for predict_step: ('still', indices) batches, then ('frame', t values) batches."""
        b = max(1, int(self.anim.get("batch", 4)))
        jobs = [("still", list(range(i, min(self.images, i + b)))) for i in range(0, self.images, b)]
        if self.kind != "none":
            ts = timeline(int(self.anim.get("frames", 24)), self.anim.get("easing", "sine"),
                          bool(self.anim.get("pingpong", True))).tolist()
            jobs += [("frame", ts[i:i + b]) for i in range(0, len(ts), b)]
        return jobs

    def predict_dataloader(self):
        return steps_loader(len(self.jobs))

    def _z(self, idx):
        return self.zs[idx] if self.net.z_dim else None

    def predict_step(self, batch, batch_idx=0):
        t = time.perf_counter()
        self._predict(*self.jobs[int(batch)])
        self.render_seconds += time.perf_counter() - t

    def draw(self, coords, z):
        """(B, C, H, W) at the task's size through the tiled renderer (compiled if asked)."""
        return render(self.net, coords, *self.size, z, self.tile, fn=self.forward_fn)

    def _predict(self, kind, items):
        if kind == "still":
            self.stills += list(self.draw(self.coords, self._z(items)))
        elif self.kind == "morph":
            z0, z1 = self.zs[0], self.zs[-1]
            z = torch.stack([z0 + (z1 - z0) * t for t in items])
            self.frames += list(self.draw(self.coords, z if self.net.z_dim else None))
        elif self.kind == "zoom":
            z_to = float(self.anim.get("zoom_to", 0.1))
            for t in items:
                c = Coords(self.coords.mode, self.coords.scale, self.coords.zoom * (1 + (z_to - 1) * t),
                           self.coords.use_r)
                self.frames.append(self.draw(c, self._z([0]))[0])
        else:  # weights: interpolate every parameter towards a second draw of the network
            other = self._other_net()
            start = {k: v.clone() for k, v in self.net.state_dict().items()}
            try:
                for t in items:
                    self.net.load_state_dict({k: start[k] + (other[k] - start[k]) * t for k in start})
                    self.frames.append(self.draw(self.coords, self._z([0]))[0])
            finally:
                self.net.load_state_dict(start)

    def _other_net(self):
        """The state of a second draw of the same architecture (seed + 1)."""
        if self.other is None:
            other = copy.deepcopy(self.net)
            other.redraw(self.seed + 1)
            self.other = other.state_dict()
        return self.other

    def save_outputs(self, text: dict) -> dict:
        out_dir = self.out_dir
        names = []
        for i, img in enumerate(self.stills):
            img = 1 - img if self.invert else img
            names.append(save_png(out_dir / ("cppn.png" if i == 0 else f"cppn_{i}.png"), img, text).name)
        metrics = {f"{k}": v for k, v in complexity(1 - self.stills[0] if self.invert else self.stills[0]).items()}
        if len(self.stills) > 1:
            for k in list(metrics):
                metrics[f"{k}_mean"] = sum(complexity(s)[k] for s in self.stills) / len(self.stills)
        if self.frames:
            fps = float(self.anim.get("fps", 24))
            fmt = self.anim.get("format", "gif")
            writer = save_mp4 if fmt == "mp4" else save_gif
            path = writer(out_dir / f"{self.kind}.{fmt}", self.frames, fps, self.invert)
            metrics["animation"] = Path(path).name
            metrics["frames"] = len(self.frames)
        metrics.update(params=n_params(self.net), size=list(self.size), images=names,
                       render_seconds=self.render_seconds)
        return metrics

    def result(self):
        return self.stills[0] if self.stills else None
