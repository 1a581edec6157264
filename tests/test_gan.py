import gzip

import numpy as np
import pytest
import torch

from synthlab import SynthlabError
from synthlab.data.mnist import center_crop, load_mnist, random_crops, read_idx
from synthlab.run import build, run
from synthlab.tasks.gan import FAKE, kl_loss, kl_ramp

FAST = ["logger=none", "trainer.enable_progress_bar=false"]


def idx_bytes(arr: np.ndarray) -> bytes:
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()


def write_split(root, split, n, seed=0):
    rng = np.random.default_rng(seed)
    (root / f"{split}-images-idx3-ubyte").write_bytes(idx_bytes(rng.integers(0, 256, (n, 28, 28))))
    (root / f"{split}-labels-idx1-ubyte").write_bytes(idx_bytes(rng.integers(0, 10, (n,))))


def test_every_split_present_is_used(tmp_path):
    write_split(tmp_path, "train", 5)
    write_split(tmp_path, "t10k", 3, seed=1)
    x, y, splits = load_mnist(tmp_path, download_missing=False)
    assert x.shape == (8, 28, 28) and y.shape == (8,) and splits == ["train", "t10k"]


def test_bad_idx_files_are_named(tmp_path):
    write_split(tmp_path, "t10k", 3)
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(SynthlabError, match="truncated") as e:
        load_mnist(tmp_path, download_missing=False)
    assert str(p) in str(e.value)
    p.write_bytes(b"\x00\x00\x09\x03" + b"\x00" * 20)
    with pytest.raises(SynthlabError, match="magic"):
        read_idx(p)


def test_an_official_name_with_other_contents_fails_its_md5(tmp_path):
    dst = tmp_path / "t10k-labels-idx1-ubyte.gz"
    dst.write_bytes(gzip.compress(idx_bytes(np.zeros(10))))
    with pytest.raises(SynthlabError, match="md5"):
        read_idx(dst)


def test_missing_files_offline_say_what_to_put_where(tmp_path, monkeypatch):
    from synthlab.data import mnist

    monkeypatch.setattr(mnist, "MIRRORS", ["https://127.0.0.1/mnist/"])  # refused at once
    with pytest.raises(SynthlabError) as e:
        load_mnist(tmp_path / "none", download_missing=True)
    assert "t10k-images-idx3-ubyte.gz" in str(e.value) and str(tmp_path / "none") in str(e.value)


def test_random_crops():
    x = torch.arange(2 * 28 * 28, dtype=torch.uint8).reshape(2, 28, 28) % 251
    c = random_crops(x, 26, torch.Generator().manual_seed(0))
    assert c.shape == (2, 1, 26, 26) and 0 <= c.min() and c.max() <= 1
    full = x.float() / 255
    for i in range(2):  # each crop is a window of its own digit
        assert any(torch.equal(c[i, 0], full[i, oy:oy + 26, ox:ox + 26]) for oy in range(3) for ox in range(3))


def test_center_crop_is_the_middle_window():
    x = torch.arange(28 * 28, dtype=torch.int64).reshape(1, 28, 28).to(torch.uint8)
    assert torch.equal(center_crop(x, 24)[0, 0], x[0, 2:26, 2:26].float() / 255)
    assert center_crop(x, 26).shape == (1, 1, 26, 26)


def test_chunked_generator_step_equals_one_big_pass(make_cfg, tmp_path, mnist):
    gan = build(make_cfg(["task=gan", f"data.root={mnist}", "network.blocks=3", *FAST]), tmp_path)
    gan.E.eval()  # no dropout, so both passes see the same network
    x, y = torch.rand(6, 1, 26, 26), torch.randint(0, 10, (6,))
    grads = []
    for chunk in (2, 6):
        gan.chunk = chunk
        torch.manual_seed(0)
        opt = torch.optim.SGD(list(gan.E.parameters()) + list(gan.G.parameters()), lr=0.0)
        gan.g_update(opt, x, y, backward=torch.Tensor.backward)
        grads.append([p.grad.clone() for p in list(gan.E.parameters()) + list(gan.G.parameters())])
    for a, b in zip(*grads):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


def test_the_optim_group_sets_the_gan_optimisers(make_cfg, tmp_path, mnist):
    """optim.lr and optim.betas are what every GAN optimiser uses (the group is not decoration)."""
    for lr in (0.01, 0.001):
        gan = build(make_cfg(["task=gan", f"data.root={mnist}", f"optim.lr={lr}", "optim.betas=[0.5,0.9]", *FAST]),
                    tmp_path)
        opts = gan.configure_optimizers()
        assert len(opts) == 3 and all(isinstance(o, torch.optim.Adam) for o in opts)
        assert all(g["lr"] == lr and tuple(g["betas"]) == (0.5, 0.9) for o in opts for g in o.param_groups)


def test_groups_a_task_does_not_use_are_not_composed(make_cfg):
    """Each task composes only the groups it is built from."""
    want = {"texture": {"network", "optim", "critic"}, "fc_style": {"network", "optim", "critic"},
            "cppn": {"network"}, "conv_cppn": {"network"}, "gan": {"network", "optim", "data"},
            "mnist_classifier": {"optim", "data"}, "gan_sample": {"data"}}
    for task, groups in want.items():
        cfg = make_cfg([f"task={task}"])
        assert {g for g in ("network", "optim", "critic", "data") if g in cfg} == groups, task
    # gan_sample reads only data.root (the real digits it encodes), not the training data group
    assert list(make_cfg(["task=gan_sample"]).data.keys()) == ["root"]


@pytest.mark.parametrize("crop", [24, 26])
def test_any_crop_trains_and_samples(make_cfg, tmp_path, mnist, crop):
    """data.crop is the one source of the GAN's size: training, sample sheets and gan_sample."""
    out = tmp_path / "outputs" / "gan" / "d" / "t"
    m = run(make_cfg(["task=gan", f"data.root={mnist}", f"data.crop={crop}", "data.limit=64", "data.batch_size=32",
                      "network.blocks=2", "trainer.max_epochs=1", "task.g_steps=1", "task.d_steps=1", *FAST], out=out))
    assert m["epochs"] == 1
    from PIL import Image

    sheet = Image.open(out / "samples" / "epoch001.png")
    assert sheet.size[0] == 10 * (crop + 2) + 2 and (sheet.size[1] - 2) % (crop + 2) == 0  # crop-sized cells
    s = run(make_cfg(["task=gan_sample", f"task.checkpoint={out}/checkpoints/last.ckpt", f"data.root={mnist}",
                      "task.size=[40,40]", "task.per_class=1", "task.random=2", "task.morph=false", *FAST],
                     out=tmp_path / "sample"))
    assert s["size"] == [40, 40]
    assert Image.open(tmp_path / "sample" / "class_grid.png").size == (crop + 4, 10 * (crop + 2) + 2)  # a digit a row


def test_gan_smoke_checkpoints_every_epoch_and_resumes(make_cfg, tmp_path, mnist):
    base = ["task=gan", f"data.root={mnist}", "data.limit=64", "data.batch_size=32", "network.blocks=2", "logger=csv",
            "task.g_steps=2", "task.d_steps=2", *FAST]
    out = tmp_path / "outputs" / "gan" / "d" / "t1"
    m = run(make_cfg(base + ["trainer.max_epochs=1"], out=out))
    assert m["epochs"] == 1 and 0 <= m["g_acc"] <= 1
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch001.ckpt", "last.ckpt"]
    (out / "metrics.json").unlink()  # as if the run had been killed after epoch 1
    (out / "error.txt").write_text("stopped by signal 15 (SIGTERM)\n")  # ... and had said so
    m2 = run(make_cfg(base + ["trainer.max_epochs=2", "resume=true"], out=tmp_path / "outputs" / "gan" / "d" / "t2"))
    assert m2["epochs"] == 2 and [r["epoch"] for r in m2["per_epoch"]] == [1, 2]  # kept across the "kill"
    assert 0 <= m2["g_acc"] <= 1 and "d_real_acc" in m2
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch001.ckpt", "epoch002.ckpt", "last.ckpt"]
    assert (out / "samples" / "epoch002.png").exists() and (out / "metrics.json").exists()
    assert not (out / "error.txt").exists()  # finished now: the stop's note went with it

    s = run(make_cfg(["task=gan_sample", f"task.checkpoint={out}/checkpoints/last.ckpt", f"data.root={mnist}",
                      "task.size=[64,48]", "task.per_class=2", "task.random=4", "task.morph_size=20",
                      "task.morph_frames=3", *FAST], out=tmp_path / "sample"))
    assert s["morph_frames"] == 30
    from PIL import Image

    assert Image.open(tmp_path / "sample" / "digit_7_48x64.png").size == (48, 64)
    gif = Image.open(tmp_path / "sample" / "morph.gif")  # Pillow merges identical frames, adding their time
    total = 0
    for k in range(gif.n_frames):
        gif.seek(k)
        total += gif.info["duration"]
    assert abs(total - 30 * 1000 / 24) <= 10 * gif.n_frames  # GIF keeps times in 10 ms steps


def test_sampling_a_wrong_or_missing_checkpoint_is_named(tmp_path, make_cfg):
    torch.save({"state_dict": {"net.weight": torch.zeros(3)}}, tmp_path / "other.ckpt")
    for path, words in [(tmp_path / "other.ckpt", "not a task=gan checkpoint"), (tmp_path / "no.ckpt", "not found")]:
        cfg = make_cfg(["task=gan_sample", f"task.checkpoint={path}", *FAST])
        with pytest.raises(SynthlabError, match=words):
            build(cfg, tmp_path)


def test_classifier_learns_and_scores_only_its_own_crop(make_cfg, tmp_path, mnist):
    m = run(make_cfg(["task=mnist_classifier", f"data.root={mnist}", "trainer.max_epochs=2", "task.holdout=100",
                      "data.limit=-100", "data.batch_size=50", *FAST]))
    assert m["holdout_acc"] > 0.7 and (tmp_path / "run" / "classifier.pt").exists()
    cfg = make_cfg(["task=gan", f"data.root={mnist}", "data.crop=24", f"task.classifier={m['classifier']}", *FAST])
    with pytest.raises(SynthlabError, match="scores 26x26 digits, but these are 24x24"):
        build(cfg, tmp_path).classifier_net()


def test_previous_model_experiment_trains(make_cfg, mnist):
    m = run(make_cfg(["experiment=cppn_gan_vae", f"data.root={mnist}", "data.limit=40", "data.batch_size=20",
                      "network.width=16", "trainer.max_epochs=1", *FAST]))
    assert m["epochs"] == 1 and m["vae_loss"] > 0 and 1 <= m["g_steps"] <= 4


def test_previous_model_uses_optim_lr_for_vae_and_d_and_its_own_for_g(make_cfg, tmp_path, mnist):
    gan = build(make_cfg(["experiment=cppn_gan_vae", f"data.root={mnist}", "optim.lr=0.002", *FAST]), tmp_path)
    vae, g, d = gan.configure_optimizers()
    assert [o.param_groups[0]["lr"] for o in (vae, g, d)] == [0.002, 0.005, 0.002]
    assert gan.D.head.out_features == 1 and tuple(vae.param_groups[0]["betas"]) == (0.65, 0.999)


def test_previous_model_takes_its_loss_weights_and_step_counts(make_cfg, tmp_path, mnist):
    """Every composed key of experiment=cppn_gan_vae takes effect: the loss weights (the post's
    1, 1, 1) scale its VAE and generator losses, and g_steps bounds its generator steps."""
    base = ["experiment=cppn_gan_vae", f"data.root={mnist}", "data.limit=40", "data.batch_size=20",
            "network.width=16", *FAST]
    x = torch.rand(6, 1, 26, 26, generator=torch.Generator().manual_seed(0))

    def losses(*overrides):
        gan = build(make_cfg([*base, *overrides]), tmp_path)
        gan.eval()  # no dropout: the same z mean for every build
        with torch.no_grad():
            torch.manual_seed(0)
            vae, _, _ = gan.losses(x)
        return float(vae)

    vae, no_kl, no_recon = losses(), losses("task.kl_weight=0"), losses("task.recon_weight=0")
    assert 0 < no_kl < vae and 0 < no_recon < vae and abs(no_kl + no_recon - vae) < 1e-4 * vae
    m = run(make_cfg([*base, "task.g_steps=1", "trainer.max_epochs=1"]))
    assert m["g_steps"] == 1


def test_width_four_variant_builds(make_cfg, tmp_path, mnist):
    gan = build(make_cfg(["task=gan", f"data.root={mnist}", "network.width=4", *FAST]), tmp_path)
    assert gan.G.blocks[0][0].weight.shape == (4, 4)


def test_gan_sample_scores_each_class_and_the_big_renders(make_cfg, tmp_path, mnist):
    """With a classifier, gan_sample reports consistency per class (a digit the generator never
    makes is a 0 there, whatever the mean) and for the big renders shrunk to the classifier's size."""
    c = run(make_cfg(["task=mnist_classifier", f"data.root={mnist}", "trainer.max_epochs=1", "task.holdout=100",
                      "data.limit=-100", "data.batch_size=50", *FAST], out=tmp_path / "cls"))
    out = tmp_path / "outputs" / "gan" / "d" / "t"
    g = run(make_cfg(["task=gan", f"data.root={mnist}", "data.limit=64", "data.batch_size=32", "network.blocks=2",
                      "trainer.max_epochs=2", "task.g_steps=1", "task.d_steps=1", f"task.classifier={c['classifier']}",
                      "task.render_every=1", "task.render_size=96", *FAST], out=out))
    for row in g["per_epoch"]:  # the trade-off's numbers, per checkpoint, and what random z make
        assert {"class_consistency", "worst_class_consistency", "grid_consistency", "render_png_bpp", "render_hf_share",
                "render_consistency"} <= set(row) and row["render_png_bpp"] > 0 and len(row["render_predicted"]) == 10
        assert sum(row["random_classes"]) == 100 and 0 <= row["random_entropy"] <= 3.33
        assert 0 <= row["random_smudges"] <= 1
        assert row["kl_nats"] >= 0 and 0 <= row["active_dims"] <= 32  # how much of z the encoder uses
        assert abs(row["random_min_share"] - min(row["random_classes"]) / 100) < 1e-6
        assert abs(row["random_max_share"] - max(row["random_classes"]) / 100) < 1e-6
    best = max(g["per_epoch"], key=lambda r: (r["class_consistency"] + r["worst_class_consistency"], r["epoch"]))
    assert g["best_epoch"] == best["epoch"]  # the best class grid's epoch, copied whole
    assert (out / "checkpoints" / "best.ckpt").read_bytes() == (out / "checkpoints" / f"epoch{best['epoch']:03d}.ckpt").read_bytes()
    assert (out / "samples" / "epoch002_random.png").is_file()
    s = run(make_cfg(["task=gan_sample", f"task.checkpoint={out}/checkpoints/last.ckpt", f"data.root={mnist}",
                      f"task.classifier={c['classifier']}", "task.size=[64,64]", "task.per_class=3", "task.random=20",
                      "task.morph_size=32", "task.morph_frames=2", *FAST], out=tmp_path / "sample"))
    by = s["class_consistency_by_class"]
    assert len(by["per_class"]) == 10 and all(0 <= v <= 1 for v in by["per_class"])
    assert by["worst"] == min(by["per_class"]) and by["per_class"][by["worst_class"]] == by["worst"]
    assert abs(sum(by["per_class"]) / 10 - s["class_consistency"]) < 1e-6  # equal classes: the mean is the mean
    assert s["worst_class_consistency"] == by["worst"] and 0 <= s["grid_consistency"] <= 1
    assert len(s["render_predicted"]) == 10 and 0 <= s["render_consistency"] <= 1
    assert sum(s["random_classes"]) == 20 and s["render_png_bpp"] > 0
    assert s["prior"] == "fitted" and s["weights"] == "moving average" and sum(s["random_normal_classes"]) == 20
    assert s["digits"] == "prototype" and s["temperature"] == 0.7
    assert s["morph_frames"] == 20 and (tmp_path / "sample" / "morph.gif").stat().st_size > 0
    import imageio.v2 as imageio

    frames = imageio.mimread(tmp_path / "sample" / "morph.mp4", memtest=False)
    assert len(frames) == 20 and frames[0].shape[:2] == (32, 32)


def test_reference_recipe_is_pinned(make_cfg):
    """experiment=resnet_cppn_gan stays the post's recipe whatever task=gan's defaults become."""
    cfg = make_cfg(["experiment=resnet_cppn_gan"])
    t, n, o, d = cfg.task, cfg.network, cfg.optim, cfg.data
    assert t._target_.endswith("CPPNGAN") and (t.g_steps, t.d_steps, t.kl_weight, t.clip) == (16, 8, 10.0, 5.0)
    assert (t.gan_weight, t.recon_weight, t.keep_prob, t.chunk) == (1.0, 0.0, 0.65, 0)
    assert dict(t.gates) == {"g_stop": 0.98, "d_fake_below": 0.7, "g_above": 0.6, "d_fake_stop": 0.75,
                             "d_real_below": 0.6, "d_real_stop": 0.7}
    assert (n.width, n.blocks) == (6, 24) and o._target_ == "torch.optim.Adam" and o.lr == 1e-3
    assert list(o.betas) == [0.75, 0.999] and (d.batch_size, d.crop, d.limit) == (2000, 26, 0)
    assert cfg.trainer.max_epochs == 6


def test_same_config_and_seed_train_the_same_generator(make_cfg, tmp_path, mnist):
    """Two runs of one config and seed end with identical weights (the fused kernel's sums
    are in a fixed order, and the schedule's randomness follows the seed)."""
    states = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        run(make_cfg(["task=gan", f"data.root={mnist}", "data.limit=64", "data.batch_size=32", "network.blocks=2",
                      "trainer.max_epochs=1", *FAST], out=out))
        states.append(torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"])
    assert states[0].keys() == states[1].keys() and all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def one_epoch_differs(make_cfg, tmp_path, mnist, key, values, prefix) -> bool:
    """A 1-epoch run with each value of key: do the weights under prefix end differently?"""
    states = []
    for v in values:
        out = tmp_path / f"{key}={v}"
        run(make_cfg(["task=gan", f"data.root={mnist}", "data.limit=64", "data.batch_size=32", "network.blocks=2",
                      "trainer.max_epochs=1", f"{key}={v}", *FAST], out=out))
        states.append(torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"])
    return not all(torch.equal(states[0][k], states[1][k]) for k in states[0] if k.startswith(prefix))


def test_kl_warmup_ramps_the_kl_weight_and_takes_effect(make_cfg, tmp_path, mnist):
    """task.kl_warmup ramps the KL weight linearly from 0 over its epochs, batch by batch, and a
    run with it ends in other weights than one without."""
    assert [kl_ramp(2.0, 4, e) for e in (0, 1, 2.5, 4, 9)] == [0.0, 0.5, 1.25, 2.0, 2.0]
    assert kl_ramp(2.0, 0, 0) == 2.0
    assert one_epoch_differs(make_cfg, tmp_path, mnist, "task.kl_warmup", (0, 1), "E.")


def test_kl_free_floors_each_latent_dimensions_kl_and_takes_effect(make_cfg, tmp_path, mnist):
    """task.kl_free (free bits): each dimension's batch-mean KL counts as at least kl_free nats, so
    a dimension under the floor gets no KL gradient; 0 is the reference's KL, bit for bit; a run
    with it ends in other weights than one without."""
    g = torch.Generator().manual_seed(0)
    mean, logvar = 3 * torch.randn(8, 4, generator=g), 0.1 * torch.randn(8, 4, generator=g)
    mean[:, 0], logvar[:, 0] = 0.01, 0.0  # dimension 0 carries nearly nothing: under any floor
    per_dim = (-0.5 * (1 + logvar - mean**2 - logvar.exp())).mean(0)
    assert torch.equal(kl_loss(mean, logvar, 10), (-0.5 * (1 + logvar - mean**2 - logvar.exp())).sum(1).mean() / 10)
    assert torch.allclose(kl_loss(mean, logvar, 10, free=0.5), per_dim.clamp_min(0.5).sum() / 10)
    m = mean.clone().requires_grad_(True)
    kl_loss(m, logvar, 10, free=0.5).backward()
    assert torch.all(m.grad[:, 0] == 0) and torch.all(m.grad[:, 1:].abs().sum(0) > 0)
    assert one_epoch_differs(make_cfg, tmp_path, mnist, "task.kl_free", (0, 2), "E.")


def test_recon_focus_weighs_the_digits_the_discriminator_cannot_read(make_cfg, tmp_path, mnist):
    """task.recon_focus f: digit i's BCE weighs 1 + f (1 - p_i), p_i D's softmax over the ten
    digit classes at its own class (class 10, fake, left out); 0 is the plain mean; a run with it
    ends in other weights than one without."""
    out = tmp_path / "build"
    cfg = make_cfg(["task=gan", f"data.root={mnist}", "data.limit=64", "network.blocks=2", "task.recon_focus=3"],
                   out=out)
    task = build(cfg, out)
    g = torch.Generator().manual_seed(0)
    x, fake = torch.rand(4, 1, 26, 26, generator=g), torch.rand(4, 1, 26, 26, generator=g)
    y = torch.tensor([0, 1, 2, 3])
    logits = torch.full((4, 11), -9.0)
    logits[0, 0] = logits[1, 1] = 9.0  # D reads digits 0 and 1 as themselves ...
    logits[2, 5] = 9.0  # ... digit 2 as a 5 ...
    logits[3, FAKE] = 9.0  # ... and digit 3 as fake, but within the digits it is even: p = 1/10
    per = torch.nn.functional.binary_cross_entropy(fake, x, reduction="none").flatten(1).mean(1)
    w = torch.tensor([1.0, 1.0, 4.0, 1 + 3 * 0.9])
    assert torch.allclose(task.recon(fake, x, logits, y), (w * per).sum() / w.sum(), atol=1e-4)
    task.recon_focus = 0
    assert torch.equal(task.recon(fake, x, logits, y), torch.nn.functional.binary_cross_entropy(fake, x))
    assert one_epoch_differs(make_cfg, tmp_path, mnist, "task.recon_focus", (0, 4), "G.")


def test_the_fitted_prior_is_one_gaussian_per_class_and_draws_each_its_share():
    from synthlab.metrics.digits import draw_z, fit_prior

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 4, generator=g) * 10
    x = torch.cat([c + 0.1 * torch.randn(200, 4, generator=g) for c in centres])
    y = torch.arange(3).repeat_interleave(200)
    prior = w, mu, chol = fit_prior(x, y)
    assert torch.equal(w, torch.full((3,), 1 / 3)) and torch.allclose(mu, torch.stack([x[y == c].mean(0) for c in range(3)]))
    for c in range(3):  # each class's own covariance (plus the small ridge)
        assert torch.allclose(chol[c] @ chol[c].T, torch.cov(x[y == c].T) + 1e-3 * torch.eye(4), atol=1e-5)
    z = draw_z(300, 4, prior, seed=5)
    assert torch.equal(z, draw_z(300, 4, fit_prior(x, y), seed=5))  # refitted, redrawn: the same bits
    nearest = torch.cdist(z, centres).argmin(1)
    assert torch.bincount(nearest).tolist() == [100, 100, 100]  # each class exactly its share, not a multinomial's
    assert nearest[:30].unique().numel() == 3  # in shuffled order
    cold = draw_z(300, 4, prior, seed=5, temperature=0.5)  # the same draw, half as far from its class's mean
    assert torch.allclose(cold - mu[nearest], 0.5 * (z - mu[nearest]), atol=1e-5)
    third = draw_z(30, 4, (torch.tensor([0.2, 0.3, 0.5]), mu, chol), seed=1)  # unequal weights: their shares
    assert torch.bincount(torch.cdist(third, centres).argmin(1)).tolist() == [6, 9, 15]
    assert draw_z(8, 4, None, 1).shape == (8, 4)  # N(0, I)


def test_random_scores_count_classes_and_smudges():
    from synthlab.metrics.digits import random_scores

    logits = torch.full((10, 10), -10.0)
    for i in range(8):
        logits[i, i % 2] = 10.0  # 8 confident samples: four 0s and four 1s
    logits[8:] = 0.0  # 2 samples the classifier is unsure of
    s = random_scores(lambda x: x, logits)
    assert s["random_classes"][:2] == [6, 4] and abs(s["random_smudges"] - 0.2) < 1e-6  # unsure ones: argmax 0
    assert s["random_min_share"] == 0.0 and abs(s["random_max_share"] - 0.6) < 1e-6 and 0.9 < s["random_entropy"] < 1.0


def test_latent_use_counts_the_dimensions_that_carry_the_digit():
    """latent_use: the mean KL to N(0, I) in nats, and the dimensions carrying more than 0.1 nats
    (posterior collapse shows as few of them)."""
    from synthlab.metrics.digits import latent_use

    mean, logvar = torch.zeros(100, 5), torch.zeros(100, 5)
    mean[:50, 0], mean[50:, 0] = 1.0, -1.0  # dimension 0: KL 0.5 nats per digit
    mean[:, 1] = 0.3  # dimension 1: 0.045 nats, under the threshold
    s = latent_use(mean, logvar)
    assert abs(s["kl_nats"] - 0.545) < 1e-6 and s["active_dims"] == 1


def test_class_scores_read_every_digit_and_the_grid_separately():
    """A class whose shown grid is right but whose other digits are wrong: the grid reads 1.0,
    the class consistency says what it is (the 10-digit grids of rounds 1-3 hid such a class)."""
    from synthlab.metrics.digits import class_scores

    y = torch.arange(10).repeat_interleave(20)
    logits = torch.nn.functional.one_hot(y, 10).float()
    wrong = torch.nonzero(y == 3)[5:15, 0]  # ten of class 3's digits after its first five read as 8
    logits[wrong] = torch.nn.functional.one_hot(torch.tensor(8), 10).float()
    s = class_scores(lambda x: x, logits, y, grid=5)
    assert s["grid_consistency"] == 1.0 and abs(s["class_consistency"] - 190 / 200) < 1e-6
    assert s["worst_class_consistency"] == 0.5 and s["class_consistency_by_class"]["worst_class"] == 3


def test_the_scoring_classifier_reads_each_digit_alone(make_cfg, tmp_path, mnist):
    """The classifier's batch norm reads its running statistics when it scores: a digit gets the
    same logits alone as among others (with the batch's own statistics, the 100 digits of one
    class read 0.52 scored alone and 0.64 among the 1000 of all classes)."""
    from synthlab.data.mnist import by_class, load_mnist
    from synthlab.metrics.digits import load_classifier

    c = run(make_cfg(["task=mnist_classifier", f"data.root={mnist}", "trainer.max_epochs=1", "task.holdout=100",
                      "data.limit=-100", "data.batch_size=50", *FAST], out=tmp_path / "cls"))
    clf = load_classifier(c["classifier"], 26)
    images, labels, _ = load_mnist(mnist, download_missing=False)
    x, _ = by_class(images, labels, 5, 26)
    with torch.no_grad():
        together = clf(x)
        alone = torch.cat([clf(x[i:i + 1]) for i in range(len(x))])
    assert torch.allclose(together, alone, atol=1e-4) and c["holdout_acc"] > 0.5
