"""MNIST CPPN-GAN (hardmaru's resnet-cppn-gan, seed 003): the residual CPPN generator draws
26x26 digits from the VAE encoder's z; an 11-class classifier-discriminator (class 10 = fake).

Manual optimisation with the reference's accuracy-gated schedule per batch: up to 16 generator
(+ encoder) steps until g_acc > 0.98; then, if d_fake_acc < 0.7 and g_acc > 0.6, up to 8
discriminator steps until d_fake_acc > 0.75, else if d_real_acc < 0.6, up to 8 real-only steps
until d_real_acc > 0.7 (the step counts and the six thresholds are settings: task.g_steps,
task.d_steps, task.gates). The generator's loss is gan_weight x that CE + kl_weight x KL/pixels
+ recon_weight x per-pixel BCE (the post: 1, 10, 0; task=gan's CPU defaults differ, see its
config). The optimisers come from the `optim` group; global gradient norm clipped at 5. The
training crop is the data's (`data.crop`).
"""

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from pytorch_lightning.callbacks import ModelCheckpoint

from synthlab.data.mnist import by_class
from synthlab.errors import SynthlabError
from synthlab.io import load_weights, save_png, write_text
from synthlab.nets.cppn import Coords
from synthlab.nets.discriminator import Discriminator
from synthlab.nets.encoder import Encoder
from synthlab.tasks.base import Task

FAKE = 10
# the reference's accuracy gates (partial_train): G steps stop above g_stop; D trains on fakes
# while d_fake < d_fake_below and g > g_above, until d_fake_stop; else on reals while
# d_real < d_real_below, until d_real_stop
GATES = {"g_stop": 0.98, "d_fake_below": 0.7, "g_above": 0.6, "d_fake_stop": 0.75, "d_real_below": 0.6,
         "d_real_stop": 0.7}


class EpochCheckpoint(ModelCheckpoint):
    """Checkpoints named by the 1-based epoch they end (epoch001.ckpt after the first), like the
    sample sheets and epochs.jsonl; Lightning counts from 0."""

    def format_checkpoint_name(self, metrics, filename=None, ver=None, prefix=None):
        if "epoch" in metrics:
            metrics = {**metrics, "epoch": int(metrics["epoch"]) + 1}
        return super().format_checkpoint_name(metrics, filename, ver, prefix)


def grid(imgs: torch.Tensor, nrow: int = 10, pad: int = 2) -> torch.Tensor:
    """(B, 1, h, w) -> (1, H, W) contact sheet."""
    b, c, h, w = imgs.shape
    rows = (b + nrow - 1) // nrow
    out = torch.ones(c, rows * (h + pad) + pad, nrow * (w + pad) + pad)
    for i, im in enumerate(imgs):
        y, x = divmod(i, nrow)
        out[:, pad + y * (h + pad): pad + y * (h + pad) + h, pad + x * (w + pad): pad + x * (w + pad) + w] = im
    return out


def kl_loss(mean, logvar, pixels):
    """The reference's vae_loss: batch mean of the KL divergence to N(0, 1), per pixel."""
    return (-0.5 * (1 + logvar - mean**2 - logvar.exp()).sum(1)).mean() / pixels


class CPPNGAN(Task):
    stale_keys = ("classifier.",)  # checkpoints from before the classifier was kept apart
    items = "digits"

    def __init__(self, net, optim, data, out_dir, scale: float = 8.0, clip: float = 5.0, kl_weight: float = 10.0,
                 keep_prob: float = 0.65, g_steps: int = 16, d_steps: int = 8, chunk: int = 0,
                 recon_weight: float = 0.0, gan_weight: float = 1.0, gates=None, classifier: str | None = None,
                 render_every: int = 0, render_size: int = 1080, seed: int = 0, name: str = "gan"):
        super().__init__(out_dir, name, seed)
        self.automatic_optimization = False  # three optimisers and an accuracy-gated schedule
        self.G, self.optim, self.data, self.size = net, optim, data, data.crop
        self.E = Encoder(self.size * self.size, 512, net.z_dim, keep_prob, self.seed)
        self.D = self.make_discriminator()
        self.scale, self.clip, self.kl_weight, self.g_steps, self.d_steps = scale, clip, kl_weight, g_steps, d_steps
        self.chunk, self.recon_weight, self.gan_weight = chunk, recon_weight, gan_weight
        self.gates = {**GATES, **dict(gates or {})}
        if set(self.gates) != set(GATES) or not all(0 <= float(v) <= 1 for v in self.gates.values()):
            raise SynthlabError(f"task.gates takes accuracies in [0, 1] for {', '.join(GATES)}; got {dict(gates or {})}")
        coords = Coords("symmetric", scale, 1.0, net.in_dim == 3)
        self.register_buffer("pts", coords.points(self.size, self.size, 0, self.size), persistent=False)
        self.classifier_path = classifier
        if render_every < 0 or render_size < 1:
            raise SynthlabError(f"task.render_every must be >= 0 and task.render_size >= 1, got {render_every}, {render_size}")
        self.render_every, self.render_size = render_every, render_size
        self.aux = {}  # the scoring classifier: kept out of the module, so out of checkpoints
        self.last_sheet = None  # the latest class-by-class sample sheet

    def make_discriminator(self):
        """The 11-class classifier-discriminator: digits 0-9 and class 10 = fake."""
        return Discriminator(11, self.size, 32, self.seed + 1)

    def train_dataloader(self):
        return self.data.train_dataloader()

    def on_fit_start(self):
        self.classifier_net()  # a wrong classifier file fails now, not after the first epoch

    # --- pieces --------------------------------------------------------------------------
    def generate(self, z):
        return self.G(self.pts, z).reshape(-1, self.G.channels, self.size, self.size)

    def configure_optimizers(self):
        # d and d_real are separate optimisers on the same D, as the reference's d_opt and d_opt_real
        return [self.optim(list(self.E.parameters()) + list(self.G.parameters())), self.optim(self.D.parameters()),
                self.optim(self.D.parameters())]

    def configure_callbacks(self):
        # every epoch kept (the post compares epoch 6 with 24), plus last.ckpt for resume=true
        return [EpochCheckpoint(dirpath=self.out_dir / "checkpoints", filename="epoch{epoch:03d}",
                                auto_insert_metric_name=False, every_n_epochs=1, save_top_k=-1, save_last=True)]

    def _step(self, opt, loss, params, backward=None):
        opt.zero_grad()
        (backward or self.manual_backward)(loss)
        torch.nn.utils.clip_grad_norm_(params, self.clip)
        opt.step()

    def g_update(self, opt, x, y, backward=None):
        """One generator + encoder step. backward: the Trainer's manual_backward unless given
        (outside a Trainer, tests and the bench pass torch.Tensor.backward).

        chunk 0: one graph through G (the fused CPU kernel stores nothing between its passes, so
        this is also the bounded-memory path there). chunk k: for torch's ops, whose activations
        for 2000 images x 676 pixels x 120 layers would be gigabytes, fakes without a graph, D's
        loss and its gradient w.r.t. the fakes, then G again k images at a time with a graph,
        back-propagating that gradient; z's gradient finally flows into the encoder. Both give
        the same gradients (D's batch norm needs the whole fake batch at once)."""
        backward = backward or self.manual_backward
        mean, logvar = self.E(x)
        z = Encoder.sample(mean, logvar)
        kl = kl_loss(mean, logvar, self.size * self.size)
        opt.zero_grad()
        chunked = 0 < self.chunk < len(x)
        if chunked:  # fakes without a graph; G runs again below, chunk by chunk
            zd = z.detach().requires_grad_(True)
            with torch.no_grad():
                fake = self.generate_all(zd)
            fake.requires_grad_(True)
        else:
            fake = self.generate(z)
        logits = self.D(fake)
        g_loss = F.cross_entropy(logits, y)
        backward(self.gan_weight * g_loss + self.kl_weight * kl + self.recon(fake, x), retain_graph=chunked)
        if chunked:
            for zc, gc in zip(zd.split(self.chunk), fake.grad.split(self.chunk)):
                backward(self.generate(zc), gradient=gc)
            backward(z, gradient=zd.grad)
        params = list(self.E.parameters()) + list(self.G.parameters())
        torch.nn.utils.clip_grad_norm_(params, self.clip)
        opt.step()
        return g_loss.detach(), kl.detach(), self.acc(logits, y)

    def recon(self, fake, x):
        """recon_weight x per-pixel binary cross-entropy of the fake against the digit it encodes
        (0 in the reference, whose VAE part is KL alone; the previous model used weight 1)."""
        if not self.recon_weight:
            return 0.0
        return self.recon_weight * F.binary_cross_entropy(fake.clamp(1e-6, 1 - 1e-6), x)

    def generate_all(self, z):
        """G on every z, `chunk` at a time where that is set (no graph is kept here)."""
        if self.chunk <= 0:
            return self.generate(z)
        return torch.cat([self.generate(c) for c in z.split(self.chunk)])

    def g_pass(self, x, y):
        mean, logvar = self.E(x)
        z = Encoder.sample(mean, logvar)
        fake = self.generate_all(z)
        logits = self.D(fake)
        g_loss = F.cross_entropy(logits, y)
        kl = kl_loss(mean, logvar, self.size * self.size)
        acc = (logits.argmax(1) == y).float().mean()
        return g_loss, kl, acc, fake

    @staticmethod
    def acc(logits, target):
        return (logits.argmax(1) == target).float().mean()

    # --- the schedule --------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        x, y = batch
        g_opt, d_opt, dr_opt = self.optimizers()
        fake_y = torch.full_like(y, FAKE)
        gt = self.gates
        self.D.requires_grad_(False)
        for n_g in range(1, self.g_steps + 1):
            g_loss, kl, g_acc = self.g_update(g_opt, x, y)
            if g_acc > gt["g_stop"]:  # measured before this step's update, as the reference's accuracy
                break
        self.D.requires_grad_(True)
        with torch.no_grad():
            g_loss, kl, g_acc, fake = self.g_pass(x, y)
            d_real_acc, d_fake_acc = self.acc(self.D(x), y), self.acc(self.D(fake), fake_y)
        n_d = n_r = 0
        if d_fake_acc < gt["d_fake_below"] and g_acc > gt["g_above"]:
            for n_d in range(1, self.d_steps + 1):
                lr_, lf = self.D(x), self.D(fake)
                d_loss = (10 * F.cross_entropy(lr_, y) + F.cross_entropy(lf, fake_y)) / 11
                self._step(d_opt, d_loss, list(self.D.parameters()))
                if self.acc(lf, fake_y) > gt["d_fake_stop"]:
                    break
        elif d_real_acc < gt["d_real_below"]:
            for n_r in range(1, self.d_steps + 1):
                lr_ = self.D(x)
                self._step(dr_opt, F.cross_entropy(lr_, y), list(self.D.parameters()))
                if self.acc(lr_, y) > gt["d_real_stop"]:
                    break
        self.log_dict({"g_loss": g_loss, "kl": kl, "g_acc": g_acc, "d_real_acc": d_real_acc,
                       "d_fake_acc": d_fake_acc, "g_steps": float(n_g), "d_steps": float(n_d),
                       "d_real_steps": float(n_r)}, prog_bar=True)

    # --- per epoch: samples and class consistency ------------------------------------------
    @torch.no_grad()
    def class_z(self, per_class: int = 10):
        """The encoder's means (E in eval) of the first `per_class` real digits of each class."""
        x, y = by_class(self.data.images, self.data.labels, per_class, self.size)
        self.E.eval()
        mean, _ = self.E(x.to(self.device))
        self.E.train()
        return mean, y.to(self.device)

    @torch.no_grad()
    def sample_by_class(self, per_class: int = 10):
        """Generated digits of each class, from encoding real digits of that class."""
        z, y = self.class_z(per_class)
        return self.generate(z), y

    def on_train_epoch_end(self):
        imgs, y = self.sample_by_class()
        row = {"epoch": self.current_epoch + 1,
               **{k: float(v) for k, v in self.trainer.callback_metrics.items() if v.numel() == 1}}
        clf = self.classifier_net()
        score = class_consistency(clf, imgs, y)
        if score is not None:
            row["class_consistency"] = score
            row["worst_class_consistency"] = per_class_consistency(clf, imgs, y)["worst"]
            self.log("class_consistency", score)
        if self.render_every and (self.current_epoch + 1) % self.render_every == 0:
            # the post's trade-off: what the big renders of this epoch look like, as numbers
            z, _ = self.class_z(per_class=1)
            row.update(render_scores(clf, render_digits(self.G, z, self.render_size, self.render_size, self.scale), self.size))
        log = self.out_dir / "epochs.jsonl"  # one line per epoch, kept across kills and resumes
        rows = [r for r in read_epochs(log) if r["epoch"] < row["epoch"]] + [row]
        write_text(log, "".join(json.dumps(r) + "\n" for r in rows))  # whole file, atomically
        self.last_sheet = grid(imgs.cpu())
        save_png(self.out_dir / "samples" / f"epoch{self.current_epoch + 1:03d}.png", self.last_sheet)
        self.log_images("samples", [self.last_sheet], [f"epoch {self.current_epoch + 1}"])

    def result(self):
        """The latest class-by-class sample sheet (the run's image for loggers)."""
        return self.last_sheet

    def classifier_net(self):
        if "classifier" not in self.aux and self.classifier_path:
            self.aux["classifier"] = load_classifier(self.classifier_path, self.size).to(self.device)
        return self.aux.get("classifier")

    def save_outputs(self, text: dict) -> dict:
        log = self.out_dir / "epochs.jsonl"
        per_epoch = read_epochs(log)
        last = {k: v for k, v in (per_epoch[-1] if per_epoch else {}).items() if k != "epoch"}
        return {**last, "epochs": self.current_epoch, "per_epoch": per_epoch}  # completed epochs after fit


def read_epochs(path: Path) -> list:
    """epochs.jsonl, one row per epoch: a line cut by a kill is skipped, and an epoch run again
    after a resume keeps its latest row."""
    rows = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            row = json.loads(line)
            rows[row["epoch"]] = row
        except (ValueError, KeyError, TypeError):
            continue
    return [rows[k] for k in sorted(rows)]


def load_classifier(path, size: int):
    """A task=mnist_classifier file that scores `size` x `size` digits, or one line saying why not."""
    from synthlab.io import check_state

    if not Path(path).is_file():
        raise SynthlabError(f"classifier checkpoint not found: {path} (train one with task=mnist_classifier)")
    state = load_weights(path, "classifier")
    if not isinstance(state, dict) or "size" not in state or "state_dict" not in state:
        raise SynthlabError(f"{path} is not a task=mnist_classifier file (no size and state_dict)")
    if int(state["size"]) != size:
        raise SynthlabError(f"classifier {path} scores {state['size']}x{state['size']} digits, but these are "
                            f"{size}x{size}: train one with data.crop={size}")
    net = Discriminator(10, size, 32)
    check_state(net.state_dict(), state["state_dict"], f"classifier {path}")
    net.load_state_dict(state["state_dict"])
    return net.eval()


@torch.no_grad()
def class_consistency(classifier, imgs, y):
    """Share of generated digits the separately trained classifier assigns to the intended class."""
    if classifier is None:
        return None
    return float((classifier(imgs).argmax(1) == y).float().mean())


def per_class_consistency(classifier, imgs, y) -> dict:
    """The share for each intended class, so a digit the generator never makes shows as a 0
    (the mean can hide it), plus the worst class and what the classifier saw instead."""
    hit = classifier(imgs).argmax(1)
    shares = {int(c): float((hit[y == c] == c).float().mean()) for c in y.unique()}
    worst = min(shares, key=shares.get)
    return {"per_class": [shares.get(c) for c in range(10)], "worst_class": worst, "worst": shares[worst]}


def render_digits(G, z, h: int, w: int, scale: float = 8.0, tile: int = 1 << 18) -> torch.Tensor:
    """One h x w render per z over the training coordinate range [-scale, scale]: (B, C, h, w)."""
    from synthlab.render import render

    return render(G, Coords("symmetric", scale, 1.0, G.in_dim == 3), h, w, z, tile)


@torch.no_grad()
def render_scores(classifier, digits: torch.Tensor, train_size: int) -> dict:
    """Big renders of the digits 0..9 as numbers: their complexity (mean png_bpp and hf_share, as
    the CPPN tasks log) and, with a classifier, whether they still read as their digit when
    shrunk (antialiased) to the training size."""
    from synthlab.data import resize
    from synthlab.metrics.complexity import hf_share, png_bpp

    out = {"render_png_bpp": sum(png_bpp(d) for d in digits) / len(digits),
           "render_hf_share": sum(hf_share(d) for d in digits) / len(digits)}
    if classifier is not None:
        small = resize(digits, (train_size, train_size)).to(next(classifier.parameters()).device)
        digits_y = torch.arange(len(digits), device=small.device) % 10
        out["render_consistency"] = class_consistency(classifier, small, digits_y)
        out["render_predicted"] = [int(v) for v in classifier(small).argmax(1)]
    return out


class CPPNGANVAE(CPPNGAN):
    """The post's "previous model" (cppn-gan-vae-tensorflow): a 4 x 128 tanh CPPN generator, a
    binary discriminator, and a VAE loss with pixel reconstruction. Per batch: 4 VAE steps
    (encoder + G), up to 4 generator steps until g_loss < 0.6, then one D step if d_loss > 0.6
    and g_loss < 0.75 (cppn_gan.md A')."""

    def __init__(self, net, optim, data, out_dir, lr_g: float = 5e-3, vae_steps: int = 4, **kw):
        kw.setdefault("keep_prob", 1.0)
        super().__init__(net, optim, data, out_dir, **kw)
        self.lr_g, self.vae_steps = lr_g, vae_steps

    def make_discriminator(self):
        """Binary: real or fake, width 24."""
        return Discriminator(1, self.size, 24, self.seed + 1)

    def configure_optimizers(self):
        # the VAE and D steps use the optim group's lr (1e-3); the generator-only step its own
        eg = list(self.E.parameters()) + list(self.G.parameters())
        return [self.optim(eg), self.optim(list(self.G.parameters()), lr=self.lr_g), self.optim(self.D.parameters())]

    def losses(self, x):
        mean, logvar = self.E(x)
        fake = self.generate(Encoder.sample(mean, logvar))
        px = self.size * self.size
        recon = F.binary_cross_entropy(fake.clamp(1e-7, 1 - 1e-7), x, reduction="none").flatten(1).sum(1)
        vae = (recon.mean() + kl_loss(mean, logvar, 1)) / px
        logits = self.D(fake)[:, 0]
        g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        return vae, g, fake

    def training_step(self, batch, batch_idx):
        x, y = batch
        vae_opt, g_opt, d_opt = self.optimizers()
        self.D.requires_grad_(False)
        for _ in range(self.vae_steps):
            vae, g, _ = self.losses(x)
            self._step(vae_opt, vae, list(self.E.parameters()) + list(self.G.parameters()))
        for n_g in range(1, 5):
            vae, g, fake = self.losses(x)
            self._step(g_opt, g + vae, list(self.G.parameters()))
            if g < 0.6:
                break
        self.D.requires_grad_(True)
        lr_, lf = self.D(x)[:, 0], self.D(fake.detach())[:, 0]
        d = (F.binary_cross_entropy_with_logits(lr_, torch.ones_like(lr_))
             + F.binary_cross_entropy_with_logits(lf, torch.zeros_like(lf))) / 2
        n_d = 0
        if d > 0.6 and g < 0.75:
            self._step(d_opt, d, list(self.D.parameters()))
            n_d = 1
        self.log_dict({"vae_loss": vae.detach(), "g_loss": g.detach(), "d_loss": d.detach(), "g_steps": float(n_g),
                       "d_steps": float(n_d)}, prog_bar=True)
