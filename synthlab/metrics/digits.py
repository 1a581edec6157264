"""How good generated digits are, by a separately trained classifier (task=mnist_classifier):
class consistency of the class-by-class grid, per class, of big renders shrunk back to the
training size, and what random-z samples make (their classes, entropy and smudges). Training
(per epoch), gan_sample and the bench share these."""

import math
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


@torch.no_grad()
def per_class_consistency(classifier, imgs, y) -> dict:
    """The share for each intended class, so a digit the generator never makes shows as a 0
    (the mean can hide it), plus the worst class and what the classifier saw instead."""
    hit = classifier(imgs).argmax(1)
    shares = {int(c): float((hit[y == c] == c).float().mean()) for c in y.unique()}
    worst = min(shares, key=shares.get)
    return {"per_class": [shares.get(c) for c in range(10)], "worst_class": worst, "worst": shares[worst]}


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


@torch.no_grad()
def fit_prior(means: torch.Tensor, k: int = 10, iters: int = 30, seed: int = 0) -> tuple:
    """A mixture of k Gaussians fitted by EM to the encoder's means of real digits: (weights
    (k,), means (k, d), lower Cholesky factors (k, d, d)). Random z drawn from it land where
    the encoder puts digits, cluster by cluster, which N(0, I) need not do when KL is weak
    (ex-post density estimation, Ghosh et al. 2020, with a 10-component GMM as there). k-means++
    starts it from a fixed seed, so the same means give the same prior."""
    x = means.detach().float().cpu()
    n, d = x.shape
    k = min(k, n)
    eye = 1e-3 * torch.eye(d, dtype=x.dtype)  # keeps a component with few points invertible
    gen = torch.Generator().manual_seed(seed)
    centres = [x[int(torch.randint(n, (1,), generator=gen))]]
    for _ in range(k - 1):  # k-means++: each next centre far from the chosen ones
        dist = torch.cdist(x, torch.stack(centres)).min(1).values ** 2
        centres.append(x[int(torch.multinomial(dist / dist.sum(), 1, generator=gen))])
    mu, cov, w = torch.stack(centres), torch.cov(x.T).expand(k, d, d).clone(), torch.full((k,), 1.0 / k, dtype=x.dtype)
    for _ in range(iters):
        chol = torch.linalg.cholesky(cov + eye)
        diff = x[None] - mu[:, None]  # (k, n, d)
        inv = torch.linalg.solve_triangular(chol, torch.eye(d, dtype=x.dtype).expand(k, d, d), upper=False)
        white = torch.bmm(diff, inv.transpose(1, 2))  # (k, n, d): L^-1 (x - mu) per point
        logdet = 2 * chol.diagonal(dim1=1, dim2=2).log().sum(1)  # (k,)
        logp = (-0.5 * (white.square().sum(2) + logdet[:, None] + d * math.log(2 * math.pi))).T + w.log()
        r = (logp - logp.logsumexp(1, keepdim=True)).exp()  # (n, k) responsibilities
        nk = r.sum(0) + 1e-12
        w, mu = nk / n, (r.T @ x) / nk[:, None]
        diff = x[None] - mu[:, None]  # (k, n, d)
        cov = torch.bmm((diff * r.T[:, :, None]).transpose(1, 2), diff) / nk[:, None, None]
    return w.float(), mu.float(), torch.linalg.cholesky(cov + eye).float()


def draw_z(n: int, z_dim: int, prior: tuple | None, seed: int) -> torch.Tensor:
    """n latents from the fitted mixture (weights, means, Cholesky factors), or N(0, I) where
    prior is None; the same for the same seed."""
    gen = torch.Generator().manual_seed(int(seed))
    if prior is None:
        return torch.randn(n, z_dim, generator=gen)
    w, mu, chol = (t.cpu() for t in prior)
    comp = torch.multinomial(w, n, replacement=True, generator=gen)
    eps = torch.randn(n, z_dim, generator=gen)
    return mu[comp] + (chol[comp] @ eps[:, :, None])[:, :, 0]
