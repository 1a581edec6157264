"""How good generated digits are, by a separately trained classifier (task=mnist_classifier):
class consistency of the class-by-class grid, per class, of big renders shrunk back to the
training size, and what random-z samples make (their classes, entropy and smudges). Training
(per epoch), gan_sample and the bench share these."""

from pathlib import Path

import torch

from synthlab.errors import SynthlabError
from synthlab.io import check_state, load_weights
from synthlab.nets.discriminator import Discriminator


def load_classifier(path, size: int):
    """A task=mnist_classifier file that scores `size` x `size` digits, or one line saying why not."""
    if not Path(path).is_file():
        raise SynthlabError(f"classifier checkpoint not found: {path} (train one with task=mnist_classifier)")
    state = load_weights(path, "classifier")
    if not isinstance(state, dict) or "size" not in state or "state_dict" not in state:
        raise SynthlabError(f"{path} is not a task=mnist_classifier file (no size and state_dict)")
    if int(state["size"]) != size:
        raise SynthlabError(f"classifier {path} scores {state['size']}x{state['size']} digits, but these are "
                            f"{size}x{size}: train one with data.crop={size}")
    if not any(k.endswith("running_mean") for k in state["state_dict"]):
        raise SynthlabError(f"{path} was trained before the classifier kept running statistics (its scores depended "
                            "on the digits scored beside them): train it again with task=mnist_classifier")
    net = Discriminator(10, size, 32, running_stats=True)
    check_state(net.state_dict(), state["state_dict"], f"classifier {path}")
    net.load_state_dict(state["state_dict"])
    return net.eval()


@torch.no_grad()
def class_consistency(classifier, imgs, y):
    """Share of generated digits the separately trained classifier assigns to the intended class."""
    if classifier is None:
        return None
    return float((classifier(imgs).argmax(1) == y).float().mean())


@torch.no_grad()
def per_class_consistency(classifier, imgs, y) -> dict:
    """The share for each intended class, so a digit the generator never makes shows as a 0
    (the mean can hide it), plus the worst class and what the classifier saw instead."""
    hit = classifier(imgs).argmax(1)
    shares = {int(c): float((hit[y == c] == c).float().mean()) for c in y.unique()}
    worst = min(shares, key=shares.get)
    return {"per_class": [shares.get(c) for c in range(10)], "worst_class": worst, "worst": shares[worst]}


SCORE_PER_CLASS = 100  # real digits of each class that the class consistency reads


def firsts(y: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the first k digits of each class in y (the grid that is shown)."""
    return torch.cat([(y == c).nonzero()[:k, 0] for c in y.unique()])


@torch.no_grad()
def class_scores(classifier, imgs, y, grid: int) -> dict:
    """Class consistency of generated digits over all of them (SCORE_PER_CLASS real digits of
    each class encoded: one digit moves a class's share by 0.01, not by the 0.1 of a 10-digit
    grid, where a weak class read 0.7 and was 0.52), its worst class, and over the shown
    grid's first `grid` of each class (grid_consistency: the figure of rounds 1 to 3)."""
    by = per_class_consistency(classifier, imgs, y)
    shares = [v for v in by["per_class"] if v is not None]
    first = firsts(y, grid)
    # the mean of the classes' shares: the overall share where each class has as many digits
    return {"class_consistency": sum(shares) / len(shares), "worst_class_consistency": by["worst"],
            "class_consistency_by_class": by, "grid_consistency": class_consistency(classifier, imgs[first], y[first])}


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


SMUDGE = 0.5  # a sample whose most likely class has less than this probability is a smudge


@torch.no_grad()
def random_scores(classifier, imgs, prefix: str = "random") -> dict:
    """What samples without an intended class make: how many the classifier reads as each digit
    (`_classes`), the entropy of that histogram in bits (log2 10 = 3.32 when all ten are equally
    common), the share of smudges (the classifier's top probability < 0.5), and the rarest and
    commonest digit's share of the cells."""
    p = classifier(imgs).softmax(1)
    top, seen = p.max(1)
    counts = torch.bincount(seen, minlength=10).float()
    share = counts / len(imgs)
    nz = share[share > 0]
    return {f"{prefix}_classes": [int(c) for c in counts], f"{prefix}_entropy": float(-(nz * nz.log2()).sum()),
            f"{prefix}_smudges": float((top < SMUDGE).float().mean()), f"{prefix}_min_share": float(share.min()),
            f"{prefix}_max_share": float(share.max())}


ACTIVE_NATS = 0.1  # a latent dimension whose mean KL is above this carries something about the digit


def kl_elements(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)) of each latent dimension of each digit, in nats."""
    return -0.5 * (1 + logvar - mean**2 - logvar.exp())


@torch.no_grad()
def latent_use(mean: torch.Tensor, logvar: torch.Tensor) -> dict:
    """How much of z the encoder uses on real digits: the mean KL to N(0, I) in nats, and how
    many dimensions carry more than ACTIVE_NATS of it. Without network.z_blocks the generator
    reads z through one FC(z -> network.width) layer, so no more than width dimensions can
    matter to its pictures."""
    per_dim = kl_elements(mean, logvar).mean(0)
    return {"kl_nats": float(per_dim.sum()), "active_dims": int((per_dim > ACTIVE_NATS).sum())}


PRIOR_PER_CLASS = 200  # real digits of each class whose encodings fit the random-z prior


@torch.no_grad()
def fit_prior(means: torch.Tensor, labels: torch.Tensor) -> tuple:
    """One Gaussian per digit class, fitted to the encoder's means of that class's real digits:
    (weights (k,), means (k, d), lower Cholesky factors (k, d, d)), the weights equal. Random z
    drawn from it land where the encoder puts each digit (ex-post density estimation, Ghosh et
    al. 2020, here with the labels the classifier-discriminator trains on anyway: an unlabelled
    10-Gaussian EM fit left a digit below 4% of the random grid in 5 of 12 draws, README). The
    class means are the digits' prototypes (the big renders draw them)."""
    x, labels = means.detach().float().cpu(), labels.cpu()
    d = x.shape[1]
    eye = 1e-3 * torch.eye(d)  # keeps a class with few digits invertible
    classes = labels.unique()
    mu = torch.stack([x[labels == c].mean(0) for c in classes])
    cov = torch.stack([torch.cov(x[labels == c].T).reshape(d, d) if (labels == c).sum() > 1 else torch.zeros(d, d)
                       for c in classes])
    return torch.full((len(classes),), 1.0 / len(classes)), mu, torch.linalg.cholesky(cov + eye)


def draw_z(n: int, z_dim: int, prior: tuple | None, seed: int, temperature: float = 1.0) -> torch.Tensor:
    """n latents from the fitted prior (weights, means, Cholesky factors), each component drawn
    its share of the n (systematic sampling, in shuffled order: 100 draws of ten equal classes
    hold 10 of each, not a multinomial's 10 +- 3), its spread scaled by `temperature` (below 1:
    nearer the class's prototype, the truncation of BigGAN and Glow); or N(0, I) where prior is
    None (the VAE's own prior, drawn as is). The same for the same seed."""
    gen = torch.Generator().manual_seed(int(seed))
    if prior is None:
        return torch.randn(n, z_dim, generator=gen)
    w, mu, chol = (t.cpu() for t in prior)
    edges = (torch.arange(n) + torch.rand((), generator=gen)) / n * float(w.sum())
    comp = torch.searchsorted(w.cumsum(0), edges, right=True).clamp(max=len(w) - 1)[torch.randperm(n, generator=gen)]
    eps = torch.randn(n, z_dim, generator=gen)
    return mu[comp] + temperature * (chol[comp] @ eps[:, :, None])[:, :, 0]
