"""Fault suite, bad input: every task, through the real `synthlab` command.

Each row is (task overrides, fault overrides, words the error must contain). The outcome
asserted for every row: a non-zero exit, stderr is exactly one line `synthlab: error: ...`
naming the file, key or size, no traceback, and nothing under the run folder that looks like
a finished run (no metrics.json, no image). docs/reliability.md is the table of these rows.
"""


import numpy as np
import pytest
import torch
from conftest import TINY, fcli, write_mnist
from PIL import Image

CPPN = ["task=cppn", "task.size=[32,32]", "logger=none"]
CONV = ["task=conv_cppn", "task.size=[32,32]", "logger=none"]
FC = ["task=fc_style", "network.weights=random", "task.size=[64,64]", "task.iterations=2", "logger=none"]
GAN = ["task=gan", "data.download=false", "data.limit=64", "data.batch_size=32", "network.blocks=2",
       "task.g_steps=1", "task.d_steps=1", "trainer.max_epochs=1", "logger=none"]
CLS = ["task=mnist_classifier", "data.download=false", "logger=none"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Broken and odd inputs, made once: images, IDX folders, weights and checkpoints."""
    d = tmp_path_factory.mktemp("faults")
    good = d / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    (d / "empty.png").write_bytes(b"")
    (d / "truncated.png").write_bytes(good.read_bytes()[:200])
    (d / "text.png").write_text("this is not an image\n")
    Image.new("RGB", (1, 1)).save(d / "one.png")
    # MNIST folders: one with a corrupt images file, one truncated, one empty
    for name, cut in (("mnist_corrupt", None), ("mnist_truncated", 5000)):
        root = d / name
        root.mkdir()
        imgs = np.zeros((100, 28, 28), np.uint8)
        head = bytes([0, 0, 8, 3]) + b"".join(int(v).to_bytes(4, "big") for v in imgs.shape)
        raw = head + imgs.tobytes()
        if cut is None:
            raw = b"\x01\x02" + raw[2:]  # bad magic number
        else:
            raw = raw[:cut]
        (root / "t10k-images-idx3-ubyte").write_bytes(raw)
        labels = bytes([0, 0, 8, 1]) + (100).to_bytes(4, "big") + bytes(100)
        (root / "t10k-labels-idx1-ubyte").write_bytes(labels)
    (d / "mnist_empty").mkdir()
    write_mnist(d / "mnist", 100)
    write_mnist(d / "mnist_half", 20)
    (d / "mnist_half" / "t10k-labels-idx1-ubyte").unlink()
    (d / "mnist_zero").mkdir()
    (d / "mnist_zero" / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 3]) + bytes(4) + (28).to_bytes(4, "big") * 2)
    (d / "mnist_zero" / "t10k-labels-idx1-ubyte").write_bytes(bytes([0, 0, 8, 1]) + bytes(4))
    (d / "afile").write_text("not a folder\n")
    write_mnist(d / "mnist_split", 50)  # 50 images, 40 labels: files of two different splits
    lab = d / "mnist_split" / "t10k-labels-idx1-ubyte"
    lab.write_bytes(bytes([0, 0, 8, 1]) + (40).to_bytes(4, "big") + lab.read_bytes()[8:48])
    # classifiers: trained at another crop, and the right crop with another shape
    from synthlab.nets.discriminator import Discriminator
    torch.save({"size": 24, "state_dict": Discriminator(10, 24, 32, running_stats=True).state_dict()},
               d / "classifier_24.pt")
    torch.save({"size": 26, "state_dict": Discriminator(10, 26, 16, running_stats=True).state_dict()},
               d / "classifier_w16.pt")
    torch.save({"size": 26, "state_dict": Discriminator(10, 26, 32).state_dict()}, d / "classifier_old.pt")
    # images: NaN pixels (a float TIFF), and one flat colour (fully transparent)
    nan = np.random.default_rng(1).random((64, 64), dtype=np.float32)
    nan[10, 10] = np.nan
    Image.fromarray(nan, mode="F").save(d / "nan.tif")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(d / "clear.png")

    class Code:  # a pickle that runs code when loaded
        def __reduce__(self):
            return (eval, ("1 + 1",))
    (d / "run_code" / "checkpoints").mkdir(parents=True)
    torch.save({"state_dict": {"G.x": Code()}}, d / "run_code" / "checkpoints" / "last.ckpt")
    # VGG weights: wrong keys, and a truncated file
    torch.save({"features.0.weight": torch.zeros(3)}, d / "wrong_keys.pth")
    torch.save({"x": torch.zeros(1000)}, d / "full.pth")
    (d / "truncated.pth").write_bytes((d / "full.pth").read_bytes()[:300])
    # GAN run folders to resume: a truncated last.ckpt, and one with a wrong shape
    for name in ("run_truncated", "run_wrong"):
        (d / name / "checkpoints").mkdir(parents=True)
    (d / "run_truncated" / "checkpoints" / "last.ckpt").write_bytes((d / "full.pth").read_bytes()[:300])
    torch.save({"state_dict": {"G.coord_in.weight": torch.zeros(99, 3)}}, d / "run_wrong" / "checkpoints" / "last.ckpt")
    return d


def rows():
    ex = "task.exemplar="
    return [
        # texture: the exemplar file, sizes, config choices and keys
        ("texture", TINY, [ex + "{d}/missing.png"], "image not found"),
        ("texture", TINY, [ex + "{d}/empty.png"], "empty.png is empty (0 bytes)"),
        ("texture", TINY, [ex + "{d}/truncated.png"], "truncated.png"),
        ("texture", TINY, [ex + "{d}/text.png"], "cannot read image {d}/text.png"),
        ("texture", TINY, [ex + "{d}/one.png", "task.exemplar_max_side=null"], "too small"),
        ("texture", TINY, ["task.size=[0,64]"], "positive"),
        ("texture", TINY, ["task.size=[-5,64]"], "positive"),
        ("texture", TINY, ["task.size=[100000,100000]"], "GiB"),
        ("texture", TINY, ["task.size=abc"], "task.size"),
        ("texture", TINY, ["network/activation=swish"], "choose one of: elu, gelu, lrelu, relu, sigmoid, sin, softplus, tanh"),
        ("texture", TINY, ["optim=sgd"], "choose one of: adam, lbfgs"),
        ("texture", TINY, ["task.iteratons=5"], "task.iteratons"),
        ("texture", TINY, ["task.sise=64"], "did you mean task.size"),
        ("texture", TINY, ["critic.patches.match_dtype=int8"], "float32, bfloat16"),
        ("texture", TINY, ["critic=patchez"], "choose one of: content, correlation, gram, guided, patches, patches_sliced, pixels, reference, sliced"),
        ("texture", TINY, ["critic.patches.weight=-1"], "weight"),
        ("texture", TINY, ["critic.patches.taps=[conv9_1]"], "conv9_1"),
        ("texture", TINY, ["critic.sliced.taps=[conv3_1@3]"], "the scale after @ must be one of [1, 2, 4, 8, 16, 32]"),
        ("texture", TINY, ["task=textures"], "choose one of"),
        ("texture", TINY, ["critic=null"], "critic=null names no option of the critic group; choose one of: content"),
        ("texture", TINY, ["experiment=null"], "choose one of: chopra_cppn"),
        ("texture", TINY, ["network/activation="], "choose one of: elu"),
        ("texture", TINY, ["critic.patches.weight=nan"], "weight must be a finite number >= 0, got nan"),
        ("texture", TINY, ["critic.patches.weight=inf"], "weight must be a finite number >= 0, got inf"),
        ("texture", TINY, ["task.tv_weight=nan"], "task.tv_weight must be >= 0, got nan"),
        ("texture", TINY, [ex + "{d}/nan.tif"], "has 1 pixel(s) that are not finite"),
        ("texture", TINY, [ex + "{d}/clear.png"], "is one flat colour"),
        ("texture", TINY, ["seed=1180591620717411303424"], "seed must be an integer"),
        ("texture", TINY, [ex + "фото.png"], "must be quoted"),
        ("texture", TINY, [ex + "a,b.png"], "run them as a sweep with -m"),
        ("texture", TINY, ["sweep=texture_act_down"], "run it with -m"),
        ("texture", TINY, ["-m", "task.sise=48,64"], "did you mean task.size"),
        ("texture", TINY, ["-m", "seed=range(0)"], "has no values"),
        ("texture", TINY, ["-m", "seed=1,2", "hydra.sweep.dir={d}/afile/x"], "cannot write into the run folder"),
        # cppn and conv_cppn
        ("cppn", CPPN, ["task.size=[0,32]"], "positive"),
        ("cppn", CPPN, ["task.size=[2000000,2000000]"], "GiB"),
        ("cppn", CPPN, ["task.coords=polar"], "symmetric, centered, pixel"),
        ("cppn", CPPN, ["task.animation.kind=spin"], "spin"),
        ("cppn", CPPN, ["network.depth=-1"], "depth"),
        ("cppn", CPPN, ["network/activation=swish"], "choose one of"),
        ("conv_cppn", CONV, ["task.size=[1000000,1000000]"], "GiB"),
        ("conv_cppn", CONV, ["task.size=[0,8]"], "positive"),
        # fc_style: images, sizes, weights files
        ("fc_style", FC, ["task.content={d}/missing.png"], "not found"),
        ("fc_style", FC, ["task.style={d}/text.png"], "text.png"),
        ("fc_style", FC, ["task.size=[8,8]"], "too small"),
        ("fc_style", FC, ["task.size=[100000,100000]"], "GiB"),
        ("fc_style", FC, ["network.weights={d}/wrong_keys.pth"], "wrong_keys.pth"),
        ("fc_style", FC, ["network.weights={d}/truncated.pth"], "truncated.pth"),
        ("fc_style", FC, ["network.weights={d}/missing.pth"], "missing.pth"),
        # gan: data files, resume checkpoints
        ("gan", GAN, ["data.root={d}/mnist_corrupt"], "bad magic"),
        ("gan", GAN, ["data.root={d}/mnist_truncated"], "truncated"),
        ("gan", GAN, ["data.root={d}/mnist_empty"], "mnist_empty"),
        ("gan", GAN, ["data.root={d}/afile"], "is a file"),
        ("gan", GAN, ["data.root={d}/mnist_half"], "but not t10k-labels-idx1-ubyte"),
        ("gan", GAN, ["data.root={d}/mnist_zero"], "holds no digits"),
        ("gan", GAN, ["data.root={d}/mnist", "data.limit=-100"], "leaves none of the 100 digits"),
        ("gan", GAN, ["data.root={d}/mnist", "resume={d}/run_code"], "refused to load checkpoint"),
        ("gan", GAN, ["data.root={d}/mnist", "resume=true"], "no unfinished"),
        ("gan", GAN, ["data.root={d}/mnist", "resume={d}/run_truncated"], "cannot read checkpoint"),
        ("gan", GAN, ["data.root={d}/mnist", "resume={d}/run_wrong"], "does not fit"),
        ("gan", GAN, ["data.root={d}/mnist", "resume={d}"], "nothing to resume"),
        ("gan", GAN, ["data.root={d}/mnist_split"], "do not pair up"),
        ("gan", GAN, ["data.root={d}/mnist", "data.crop=29"], "data.crop in 1..28"),
        ("gan", GAN, ["data.root={d}/mnist", "task.classifier={d}/classifier_24.pt"], "scores 24x24 digits"),
        ("gan", GAN, ["data.root={d}/mnist", "task.classifier={d}/classifier_w16.pt"], "classifier_w16.pt"),
        ("gan", GAN, ["data.root={d}/mnist", "task.classifier={d}/classifier_old.pt"], "train it again with task=mnist"),
        ("gan", GAN, ["data.root={d}/mnist", "network.kernel=gpu"], "auto, fused, torch"),
        ("gan", GAN, ["data.root={d}/mnist", "task.render_every=-1"], "task.render_every must be >= 0"),
        ("gan", GAN, ["data.root={d}/mnist", "task.ema=1.5"], "task.ema must be in (0, 1)"),
        ("gan", GAN, ["data.root={d}/mnist", "task.lr_end=0"], "task.lr_end is the learning rate at the last epoch"),
        ("gan", GAN, ["data.root={d}/mnist", "task.kl_warmup=30"], "task.kl_warmup is the number of epochs"),
        ("gan", ["experiment=cppn_gan_vae", "logger=none"], ["data.root={d}/mnist", "task.kl_warmup=2"],
         "experiment=cppn_gan_vae has its own VAE loss"),
        ("gan", GAN, ["data.root={d}/mnist", "task.recon_focus=-1"], "task.recon_focus must be >= 0"),
        ("gan", GAN, ["data.root={d}/mnist", "task.kl_free=-1"], "task.kl_free is a floor in nats"),
        ("gan", GAN, ["data.root={d}/mnist", "network.z_blocks=maybe"], "network.z_blocks is true or false, got 'maybe'"),
        ("gan", ["experiment=cppn_gan_vae", "logger=none"], ["data.root={d}/mnist", "task.kl_free=0.5"],
         "leave task.kl_free at 0"),
        ("gan", GAN, ["data.root={d}/mnist", "task.gates=null"], "task.gates takes accuracies in [0, 1]"),
        ("gan", ["experiment=cppn_gan_vae", "logger=none"], ["data.root={d}/mnist", "task.recon_focus=2"],
         "leave task.recon_focus at 0"),
        ("gan", ["experiment=cppn_gan_vae", "logger=none"], ["data.root={d}/mnist", "task.chunk=50"],
         "takes no task.chunk; leave it null"),
        ("gan", GAN, ["data.root={d}/mnist", "task.temperature=0"], "task.temperature scales the fitted prior"),
        ("gan", GAN, ["data.root={d}/mnist", "trainer.devices=0"], "trainer.devices must be a count >= 1"),
        *([("gan", GAN, ["data.root={d}/mnist", "trainer.accelerator=gpu"], "sees no CUDA GPU on this machine")]
          if not torch.cuda.is_available() else []),
        ("gan_sample", ["task=gan_sample", "logger=none"], ["task.checkpoint={d}/run_wrong/checkpoints/last.ckpt",
                                                            "task.temperature=-1"], "task.temperature scales"),
        ("gan_sample", ["task=gan_sample", "logger=none"], ["task.checkpoint={d}/run_wrong/checkpoints/last.ckpt",
                                                            "task.digits=median"], "choose one of: prototype, first"),
        ("gan_sample", ["task=gan_sample", "logger=none"], ["task.checkpoint={d}/run_truncated/checkpoints/last.ckpt"],
         "cannot read checkpoint"),
        ("gan_sample", ["task=gan_sample", "logger=none"], ["task.checkpoint={d}/run_wrong/checkpoints/last.ckpt"],
         "not a task=gan checkpoint"),
        ("gan_sample", ["task=gan_sample", "logger=none"], [], "task.checkpoint must be set"),
        ("gan_sample", ["task=gan_sample", "logger=none"], ["task.checkpoint={d}/run_code/checkpoints/last.ckpt"],
         "Unsupported global: GLOBAL eval"),
        ("mnist_classifier", CLS, ["data.root={d}/mnist_empty"], "mnist_empty"),
    ]


@pytest.mark.parametrize("task, base, fault, words", rows(), ids=[f"{r[0]}:{' '.join(r[2])[:60]}" for r in rows()])
def test_fault_is_one_line_nonzero_and_leaves_nothing_finished(tmp_path, files, task, base, fault, words):
    fault = [f.format(d=files) for f in fault]
    run = tmp_path / "outputs" / task / "date" / "time"  # resume=true looks beside it, in outputs/<task>
    r = fcli(*base, *fault, f"hydra.run.dir={run}", cwd=tmp_path)
    err = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode != 0, r.stdout[-500:]
    assert len(err) == 1 and err[0].startswith("synthlab: error:"), r.stderr[-3000:]
    assert words.format(d=files) in err[0], err[0]
    assert "Traceback" not in r.stderr + r.stdout
    left = [p.name for p in run.rglob("*") if p.suffix in (".png", ".gif", ".mp4") or p.name == "metrics.json"] \
        if run.exists() else []
    assert not left, left
