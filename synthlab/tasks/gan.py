"""MNIST CPPN-GAN (hardmaru's resnet-cppn-gan, seed 003): the residual CPPN generator draws
digits from the VAE encoder's z; an 11-class classifier-discriminator (class 10 = fake).

Manual optimisation with the reference's accuracy-gated schedule per batch: up to g_steps
generator (+ encoder) steps until g_acc > g_stop; then D on fakes (up to d_steps, until
d_fake_stop) when d_fake_acc < d_fake_below and g_acc > g_above, else D on real digits while
d_real_acc < d_real_below (until d_real_stop). The generator's loss is gan_weight x CE +
kl_weight x KL/pixels + recon_weight x BCE. Every value is in conf/task/gan.yaml (the post's
in experiment=resnet_cppn_gan); the optimisers come from the `optim` group.

Sampling (per epoch, checkpoints, gan_sample) reads an exponential moving average of the
generator's and encoder's weights (task.ema; the live weights swing from batch to batch), and
random z come from one Gaussian per digit class fitted to the encoder's means of real digits
each epoch, drawn at task.temperature, where the encoder puts digits; the big renders draw each
class's mean z. With a classifier, the epoch with the best class consistency (mean plus worst
class, over 100 real digits of each class) is copied to checkpoints/best.ckpt at the end.
"""

import copy
import logging
import math
import os
import shutil
import time

import torch
import torch.nn.functional as F

from synthlab.checks import ema_decay
from synthlab.checks import lr_end as check_lr_end
from synthlab.checks import temperature as check_temperature
from synthlab.data.mnist import by_class
from synthlab.errors import SynthlabError
from synthlab.io import epoch_checkpoints, save_png
from synthlab.metrics.digits import (
    PRIOR_PER_CLASS,
    SCORE_PER_CLASS,
    class_scores,
    draw_z,
    firsts,
    fit_prior,
    kl_elements,
    latent_use,
    load_classifier,
    random_scores,
    render_scores,
)
from synthlab.nets.cppn import Coords
from synthlab.nets.discriminator import Discriminator
from synthlab.nets.encoder import Encoder
from synthlab.render import grid, render_digits
from synthlab.runfolder import RunFolder
from synthlab.tasks.base import Task

log = logging.getLogger("synthlab")
FAKE = 10
GATES = ("g_stop", "d_fake_below", "g_above", "d_fake_stop", "d_real_below", "d_real_stop")
REAL_WEIGHT = 10  # D's loss: ten parts real digits to one part fakes, as the reference's d_loss
RANDOM = 100  # random-z samples scored per epoch (the random grid of gan_sample)


def kl_loss(mean, logvar, pixels, free: float = 0.0):
    """The reference's vae_loss: batch mean of the KL divergence to N(0, 1), per pixel.
    free > 0 ("free bits", Kingma et al. 2016): each latent dimension's batch-mean KL counts as
    at least `free` nats, so the encoder may spend that much on each dimension unpenalised."""
    kl = kl_elements(mean, logvar)
    if free:
        return kl.mean(0).clamp_min(free).sum() / pixels
    return kl.sum(1).mean() / pixels


def kl_ramp(weight: float, warmup: int, epochs_done: float) -> float:
    """The KL weight after epochs_done epochs: ramped up linearly from 0 over the first `warmup`
    epochs (0: the full weight at once). Early on the encoder may spend its bits on shape."""
    return weight * min(1.0, epochs_done / warmup) if warmup else weight


class CPPNGAN(Task):
    stale_keys = ("classifier.", "z_w", "z_mu", "z_chol")  # checkpoints from before the classifier was kept
    # apart, and from when the random-z prior was kept in them (gan_sample fits it from the data now)
    partial_steps = True
    items = "digits"
    own_schedule = False  # a subclass with its own schedule takes no task.gates (null)

    def __init__(self, net, optim, data, out_dir, *, scale: float, clip: float, kl_weight: float,
                 keep_prob: float, g_steps: int, d_steps: int, chunk: int,
                 recon_weight: float, gan_weight: float, gates, classifier: str | None,
                 render_every: int, render_size: int, ema: float | None, lr_end: float, temperature: float,
                 kl_warmup: int, kl_free: float, recon_focus: float, seed: int, name: str):
        super().__init__(out_dir, name, seed)
        ema_decay(ema)
        self.lr_end = check_lr_end(lr_end)
        self.temperature = check_temperature(temperature)
        self.automatic_optimization = False  # three optimisers and an accuracy-gated schedule
        self.G, self.optim, self.data, self.crop = net, optim, data, data.crop
        self.E = Encoder(self.crop * self.crop, 512, net.z_dim, keep_prob, self.seed)
        self.D = self.make_discriminator()
        self.scale, self.clip, self.kl_weight, self.g_steps, self.d_steps = scale, clip, kl_weight, g_steps, d_steps
        self.kl_warmup = kl_warmup  # epochs over which the KL weight ramps up from 0 (checks.kl_warmup)
        self.chunk, self.recon_weight, self.gan_weight = chunk, recon_weight, gan_weight
        if not kl_free >= 0:
            raise SynthlabError(f"task.kl_free is a floor in nats per latent dimension, >= 0 (0: off); got {kl_free}")
        self.kl_free = kl_free
        if not recon_focus >= 0:
            raise SynthlabError(f"task.recon_focus must be >= 0, got {recon_focus}")
        self.recon_focus = recon_focus
        self.gates = None if gates is None and self.own_schedule else dict(gates or {})
        if self.gates is not None and (set(self.gates) != set(GATES)
                                       or not all(0 <= float(v) <= 1 for v in self.gates.values())):
            raise SynthlabError(f"task.gates takes accuracies in [0, 1] for {', '.join(GATES)}; got {self.gates}")
        coords = Coords("symmetric", scale, 1.0, net.in_dim == 3)
        self.register_buffer("pts", coords.points(self.crop, self.crop, 0, self.crop), persistent=False)
        self.classifier_path = classifier
        if render_every < 0 or render_size < 1:
            raise SynthlabError("task.render_every must be >= 0 and task.render_size >= 1, "
                                f"got {render_every}, {render_size}")
        self.render_every, self.render_size = render_every, render_size
        self.scorer = {}  # the classifier that scores samples: a dict keeps it out of the module and its checkpoints
        self.last_sheet = None  # the latest class-by-class sample sheet
        self.ema = ema
        # the averaged copies sample and are saved with the checkpoints (gan_sample prefers them)
        self.G_ema = copy.deepcopy(net).requires_grad_(False) if ema else None
        self.E_ema = copy.deepcopy(self.E).requires_grad_(False) if ema else None

    def make_discriminator(self):
        """The 11-class classifier-discriminator: digits 0-9 and class 10 = fake."""
        return Discriminator(11, self.crop, 32, self.seed + 1)

    def train_dataloader(self):
        return self.data.train_dataloader()

    def on_fit_start(self):
        self.classifier_net()  # a wrong classifier file fails now, not after the first epoch
        d, ranks = self.data, self.trainer.world_size
        d.setup()
        self.batches = -(-len(d.images) // (d.batch_size * ranks))  # each rank reads its share of the digits
        if self.trainer.is_global_zero:  # which digits, and how many batches an epoch is
            per = f" per process, {ranks} processes" if ranks > 1 else ""
            log.info("data: MNIST %s, %d digits from %s; an epoch is %d batches of %d%s", " + ".join(d.splits),
                     len(d.images), d.root, self.batches, d.batch_size, per)

    def on_train_batch_start(self, batch, batch_idx):
        if batch_idx == 1:  # the first batch pays for warm-up: time from the second
            self.batch_t0 = time.perf_counter()

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if batch_idx == 3 and self.current_epoch == 0 and self.trainer.is_global_zero:
            per = (time.perf_counter() - self.batch_t0) / 3
            log.info("an epoch will take about %.0f s here (%.2f s per batch; epoch 1 of %d)", per * self.batches, per,
                     self.trainer.max_epochs)

    # --- pieces --------------------------------------------------------------------------
    def generate(self, z):
        return self.G(self.pts, z).reshape(-1, self.G.channels, self.crop, self.crop)

    def eg_params(self) -> list:
        """The encoder's and the generator's parameters: the VAE part, trained together."""
        return list(self.E.parameters()) + list(self.G.parameters())

    def configure_optimizers(self):
        # d and d_real are separate optimisers on the same D, as the reference's d_opt and d_opt_real
        return self.with_schedule([self.optim(self.eg_params()), self.optim(self.D.parameters()),
                                   self.optim(self.D.parameters())])

    def with_schedule(self, opts: list):
        """Every optimiser's lr falls along a half cosine from optim.lr to lr_end x optim.lr over
        the run's epochs (stepped at each epoch's end; kept in checkpoints, so resume continues it)."""
        if self.lr_end == 1 or self._trainer is None:  # outside a Trainer (the bench): steps only
            return opts
        epochs, end = max(1, self.trainer.max_epochs - 1), self.lr_end

        def factor(epoch):
            return end + (1 - end) * (1 + math.cos(math.pi * min(epoch, epochs) / epochs)) / 2

        return opts, [torch.optim.lr_scheduler.LambdaLR(o, factor) for o in opts]

    def configure_callbacks(self):
        return [epoch_checkpoints(self.out_dir / "checkpoints")]

    def on_save_checkpoint(self, checkpoint):
        checkpoint["generator"] = self.G.shape  # gan_sample rebuilds G from it, z_scale included

    def d_loss(self, real_logits, y, fake_logits):
        """The classifier-discriminator's loss: the real digits' classes and class 10 for fakes."""
        return (REAL_WEIGHT * F.cross_entropy(real_logits, y)
                + F.cross_entropy(fake_logits, torch.full_like(y, FAKE))) / (REAL_WEIGHT + 1)

    def step(self, opt, loss, params, backward=None):
        """One optimiser step on loss, its gradient norm clipped (backward: as in g_update)."""
        opt.zero_grad()
        (backward or self.manual_backward)(loss)
        torch.nn.utils.clip_grad_norm_(params, self.clip)
        opt.step()

    def kl_now(self, batch_idx: int) -> float:
        return kl_ramp(self.kl_weight, self.kl_warmup, self.current_epoch + batch_idx / self.batches)

    def g_update(self, opt, x, y, backward=None, kl_weight=None):
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
        kl = kl_loss(mean, logvar, self.crop * self.crop)
        kl_term = kl_loss(mean, logvar, self.crop * self.crop, self.kl_free) if self.kl_free else kl
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
        kl_weight = self.kl_weight if kl_weight is None else kl_weight
        backward(self.gan_weight * g_loss + kl_weight * kl_term + self.recon(fake, x, logits, y), retain_graph=chunked)
        if chunked:
            for zc, gc in zip(zd.split(self.chunk), fake.grad.split(self.chunk)):
                backward(self.generate(zc), gradient=gc)
            backward(z, gradient=zd.grad)
        torch.nn.utils.clip_grad_norm_(self.eg_params(), self.clip)
        opt.step()
        return g_loss.detach(), kl.detach(), self.acc(logits, y)

    def recon(self, fake, x, logits, y):
        """recon_weight x per-pixel binary cross-entropy of the fake against the digit it encodes
        (0 in the reference, whose VAE part is KL alone; the previous model used weight 1).
        With recon_focus f, digit i weighs 1 + f (1 - p_i), p_i the discriminator's belief, among
        the ten digit classes, that its fake shows its own class: the digits D cannot read from
        the fakes (8s drawn as 3s) get more of the generator's effort than those it can."""
        if not self.recon_weight:
            return 0.0
        fake = fake.clamp(1e-6, 1 - 1e-6)
        if not self.recon_focus:
            return self.recon_weight * F.binary_cross_entropy(fake, x)
        p = logits.detach()[:, :FAKE].softmax(1).gather(1, y[:, None]).squeeze(1)
        w = 1 + self.recon_focus * (1 - p)
        per_digit = F.binary_cross_entropy(fake, x, reduction="none").flatten(1).mean(1)
        return self.recon_weight * (w * per_digit).sum() / w.sum()

    def generate_all(self, z):
        """G on every z, `chunk` at a time where that is set (no graph is kept here)."""
        if self.chunk <= 0:
            return self.generate(z)
        return torch.cat([self.generate(c) for c in z.split(self.chunk)])

    @torch.no_grad()
    def ema_update(self):
        """The averages move towards the live weights by 1 - ema, once per batch."""
        if self.ema:
            for avg, live in ((self.G_ema, self.G), (self.E_ema, self.E)):
                torch._foreach_lerp_(list(avg.parameters()), list(live.parameters()), 1 - self.ema)

    def samplers(self):
        """(G, E) that sample: the averages when task.ema is set."""
        return (self.G_ema, self.E_ema) if self.ema else (self.G, self.E)

    def g_pass(self, x, y):
        """The generator's loss, KL, accuracy and fakes, without a step (the D gates read them)."""
        mean, logvar = self.E(x)
        fake = self.generate_all(Encoder.sample(mean, logvar))
        logits = self.D(fake)
        return F.cross_entropy(logits, y), kl_loss(mean, logvar, self.crop * self.crop), self.acc(logits, y), fake

    def agree(self, value: torch.Tensor) -> torch.Tensor:
        """A value the schedule gates on, in a distributed run the mean over the ranks, so that
        every rank takes the same steps (each step's gradients are averaged across them)."""
        if self._trainer is not None and self.trainer.world_size > 1:
            return self.trainer.strategy.reduce(value, reduce_op="mean")
        return value

    def acc(self, logits, target):
        return self.agree((logits.argmax(1) == target).float().mean())

    # --- the schedule --------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        x, y = batch
        g_opt, d_opt, dr_opt = self.optimizers()
        fake_y = torch.full_like(y, FAKE)
        gates = self.gates
        self.D.requires_grad_(False)
        kl_weight = self.kl_now(batch_idx)
        for n_g in range(1, self.g_steps + 1):
            g_loss, kl, g_acc = self.g_update(g_opt, x, y, kl_weight=kl_weight)
            if g_acc > gates["g_stop"]:  # measured before this step's update, as the reference's accuracy
                break
        self.D.requires_grad_(True)
        with torch.no_grad():
            g_loss, kl, g_acc, fake = self.g_pass(x, y)
            d_real_acc, d_fake_acc = self.acc(self.D(x), y), self.acc(self.D(fake), fake_y)
        n_fake = n_real = 0
        if d_fake_acc < gates["d_fake_below"] and g_acc > gates["g_above"]:
            for n_fake in range(1, self.d_steps + 1):
                real_logits, fake_logits = self.D(x), self.D(fake)
                self.step(d_opt, self.d_loss(real_logits, y, fake_logits), list(self.D.parameters()))
                if self.acc(fake_logits, fake_y) > gates["d_fake_stop"]:
                    break
        elif d_real_acc < gates["d_real_below"]:
            for n_real in range(1, self.d_steps + 1):
                real_logits = self.D(x)
                self.step(dr_opt, F.cross_entropy(real_logits, y), list(self.D.parameters()))
                if self.acc(real_logits, y) > gates["d_real_stop"]:
                    break
        self.ema_update()
        self.log_dict({"g_loss": g_loss, "kl": kl, "g_acc": g_acc, "d_real_acc": d_real_acc,
                       "d_fake_acc": d_fake_acc, "g_steps": float(n_g), "d_steps": float(n_fake),
                       "d_real_steps": float(n_real)}, prog_bar=True)

    # --- per epoch: samples and class consistency ------------------------------------------
    @torch.no_grad()
    def class_z(self, per_class: int):
        """The sampling encoder's means and log-variances (in eval) of the first `per_class` real
        digits of each class, and their labels."""
        x, y = by_class(self.data.images, self.data.labels, per_class, self.crop)
        E = self.samplers()[1]
        E.eval()
        mean, logvar = E(x.to(self.device))
        E.train()
        return mean, logvar, y.to(self.device)

    def sample(self, z):
        G = self.samplers()[0]
        return G(self.pts, z).reshape(-1, G.channels, self.crop, self.crop)

    @torch.no_grad()
    def on_train_epoch_end(self):
        if self.lr_end != 1:
            for sched in self.lr_schedulers():
                sched.step()
        z_real, logvar, y_real = self.class_z(max(PRIOR_PER_CLASS, SCORE_PER_CLASS))  # each real digit encoded once
        prior = fit_prior(*(t[firsts(y_real, PRIOR_PER_CLASS)] for t in (z_real, y_real)))  # as gan_sample fits it
        rows = firsts(y_real, SCORE_PER_CLASS)
        scored, y = self.sample(z_real[rows]), y_real[rows]
        imgs = scored[firsts(y, 10)]  # the sheet: 10 of each class
        z = draw_z(RANDOM, self.G.z_dim, prior, self.seed, self.temperature)  # the same draw every epoch
        randoms = self.sample(z.to(self.device))
        row = {"epoch": self.current_epoch + 1, "batches": self.trainer.num_training_batches,
               "processes": self.trainer.world_size,
               **{k: float(v) for k, v in self.trainer.callback_metrics.items() if v.numel() == 1},
               **latent_use(z_real, logvar)}
        clf = self.classifier_net()
        if clf is not None:
            scores = class_scores(clf, scored, y, 10)
            row.update({k: scores[k] for k in ("class_consistency", "worst_class_consistency", "grid_consistency")})
            row.update(random_scores(clf, randoms))
            # every rank has the same weights, so the same score
            self.log("class_consistency", scores["class_consistency"], sync_dist=True)
        if self.render_every and (self.current_epoch + 1) % self.render_every == 0:
            # the post's trade-off: what the big renders of this epoch look like, as numbers
            digits = render_digits(self.samplers()[0], prior[1].to(self.device), self.render_size, self.render_size,
                                   self.scale)
            row.update(render_scores(clf, digits, self.crop))
        self.last_sheet = grid(imgs.cpu())
        if not self.trainer.is_global_zero:  # one writer: the other ranks computed the same rows
            return
        RunFolder(self.out_dir).write_epoch(row)  # one line per epoch, kept across kills and resumes
        save_png(self.out_dir / "samples" / f"epoch{self.current_epoch + 1:03d}.png", self.last_sheet)
        save_png(self.out_dir / "samples" / f"epoch{self.current_epoch + 1:03d}_random.png", grid(randoms.cpu(), 10))
        self.log_images("samples", [self.last_sheet], [f"epoch {self.current_epoch + 1}"])

    def result(self):
        """The latest class-by-class sample sheet (the run's image for loggers)."""
        return self.last_sheet

    def classifier_net(self):
        if "classifier" not in self.scorer and self.classifier_path:
            self.scorer["classifier"] = load_classifier(self.classifier_path, self.crop).to(self.device)
        return self.scorer.get("classifier")

    def save_outputs(self, text: dict) -> dict:
        per_epoch = RunFolder(self.out_dir).epochs()
        last = {k: v for k, v in (per_epoch[-1] if per_epoch else {}).items() if k != "epoch"}
        # completed epochs after fit
        return {**last, "epochs": self.current_epoch, **self.keep_best(per_epoch), "per_epoch": per_epoch}

    def keep_best(self, per_epoch: list) -> dict:
        """Copy the epoch whose class consistency scored best (mean plus worst class over 100 real
        digits of each class; the later on a tie)
        to checkpoints/best.ckpt: GAN training swings from epoch to epoch, and the last epoch
        is one draw of that swing. Without a classifier there is no score and no best.ckpt."""
        scored = [r for r in per_epoch if "class_consistency" in r]
        if not scored:
            return {"best_epoch": None}
        best = max(scored, key=lambda r: (r["class_consistency"] + r["worst_class_consistency"], r["epoch"]))
        folder = self.out_dir / "checkpoints"
        src = folder / f"epoch{best['epoch']:03d}.ckpt"
        if not src.is_file():
            return {"best_epoch": None}
        tmp = folder / ".best.ckpt.tmp"
        shutil.copyfile(src, tmp)
        os.replace(tmp, folder / "best.ckpt")  # atomic: a reader finds the old file or the new one
        return {"best_epoch": best["epoch"], "best_class_consistency": best["class_consistency"],
                "best_worst_class_consistency": best["worst_class_consistency"]}


class CPPNGANVAE(CPPNGAN):
    """The post's "previous model" (cppn-gan-vae-tensorflow): a 4 x 128 tanh CPPN generator, a
    binary discriminator, and a VAE loss with pixel reconstruction. Per batch: vae_steps VAE
    steps (encoder + G), up to g_steps generator steps until g_loss < 0.6, then d_steps D steps
    if d_loss > 0.6 and g_loss < 0.75 (cppn_gan.md A'; the experiment pins the post's 4, 4, 1).
    The VAE loss is (recon_weight x BCE summed over pixels + kl_weight x KL) / pixels and the
    generator-only step's gan_weight x g_loss + that (the post: 1, 1, 1)."""

    own_schedule = True

    def __init__(self, net, optim, data, out_dir, *, lr_g: float, vae_steps: int, **kw):
        for key in ("kl_warmup", "kl_free", "recon_focus"):  # its VAE loss is the post's: full KL, plain reconstruction
            if kw[key]:
                raise SynthlabError(f"task.{key}={kw[key]}: experiment=cppn_gan_vae has its own VAE loss (full KL "
                                    f"from the start, every digit's reconstruction alike); leave task.{key} at 0")
        for key in ("gates", "chunk"):  # its schedule gates on losses, and its generator runs on torch's ops
            if kw[key] is not None:
                raise SynthlabError(f"task.{key}: experiment=cppn_gan_vae has its own schedule (loss-gated, one "
                                    f"graph) and takes no task.{key}; leave it null")
        super().__init__(net, optim, data, out_dir, **{**kw, "chunk": 0})
        self.lr_g, self.vae_steps = lr_g, vae_steps

    def on_save_checkpoint(self, checkpoint):
        pass  # its G is the plain CPPN: gan_sample samples the residual one only

    def make_discriminator(self):
        """Binary: real or fake, width 24."""
        return Discriminator(1, self.crop, 24, self.seed + 1)

    def configure_optimizers(self):
        # the VAE and D steps use the optim group's lr (1e-3); the generator-only step its own
        return self.with_schedule([self.optim(self.eg_params()), self.optim(list(self.G.parameters()), lr=self.lr_g),
                                   self.optim(self.D.parameters())])

    def losses(self, x):
        mean, logvar = self.E(x)
        fake = self.generate(Encoder.sample(mean, logvar))
        px = self.crop * self.crop
        recon = F.binary_cross_entropy(fake.clamp(1e-7, 1 - 1e-7), x, reduction="none").flatten(1).sum(1)
        vae = (self.recon_weight * recon.mean() + self.kl_weight * kl_loss(mean, logvar, 1)) / px
        logits = self.D(fake)[:, 0]
        g = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        return vae, g, fake

    def binary_d_loss(self, x, fake):
        real_logits, fake_logits = self.D(x)[:, 0], self.D(fake)[:, 0]
        return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))) / 2

    def training_step(self, batch, batch_idx):
        x, y = batch
        vae_opt, g_opt, d_opt = self.optimizers()
        self.D.requires_grad_(False)
        for _ in range(self.vae_steps):
            vae, g, _ = self.losses(x)
            self.step(vae_opt, vae, self.eg_params())
        for n_g in range(1, self.g_steps + 1):
            vae, g, fake = self.losses(x)
            self.step(g_opt, self.gan_weight * g + vae, list(self.G.parameters()))
            if self.agree(g.detach()) < 0.6:
                break
        self.D.requires_grad_(True)
        d = self.binary_d_loss(x, fake.detach())
        n_d = 0
        if self.agree(d.detach()) > 0.6 and self.agree(g.detach()) < 0.75:
            for n_d in range(1, self.d_steps + 1):  # the post: one step
                self.step(d_opt, d, list(self.D.parameters()))
                if n_d < self.d_steps:
                    d = self.binary_d_loss(x, fake.detach())
        self.log_dict({"vae_loss": vae.detach(), "g_loss": g.detach(), "d_loss": d.detach(), "g_steps": float(n_g),
                       "d_steps": float(n_d)}, prog_bar=True)
