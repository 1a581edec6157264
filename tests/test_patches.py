import torch

from synthlab.losses import PatchCritic, match, tv_loss
from synthlab.losses.patches import normalised_patches


def brute_force(cur_feat, style_feat, history=None, variety=0.0):
    """Neural Doodle's score spelled out: mean over the 9 positions of per-pixel cosines."""
    _, C, H, W = cur_feat.shape
    _, _, Hs, Ws = style_feat.shape
    cos = lambda a, b: float((a @ b) / (a.norm() * b.norm()))
    cur = [(y, x) for y in range(H - 2) for x in range(W - 2)]
    sty = [(y, x) for y in range(Hs - 2) for x in range(Ws - 2)]
    scores = torch.zeros(len(cur), len(sty), dtype=torch.float64)
    for i, (y, x) in enumerate(cur):
        for k, (v, u) in enumerate(sty):
            scores[i, k] = sum(cos(cur_feat[0, :, y + a, x + b].double(), style_feat[0, :, v + a, u + b].double())
                               for a in range(3) for b in range(3)) / 9
    penal = scores - (variety * history.double() if history is not None else 0)
    return penal.argmax(1), scores.max(0).values


def test_chunked_matching_equals_brute_force():
    g = torch.Generator().manual_seed(0)
    cur, sty = torch.randn(1, 5, 7, 6, generator=g), torch.randn(1, 5, 8, 9, generator=g)
    want_idx, want_best = brute_force(cur, sty)
    for budget in (64.0, 1e-4):  # one block, and one row per block
        idx, best = match(normalised_patches(cur), normalised_patches(sty), budget_mb=budget)
        assert torch.equal(idx, want_idx)
        assert torch.allclose(best.double(), want_best, atol=1e-5)


def test_variety_penalty_equals_brute_force():
    g = torch.Generator().manual_seed(1)
    cur, sty = torch.randn(1, 4, 6, 6, generator=g), torch.randn(1, 4, 6, 6, generator=g)
    history = torch.rand(16, generator=g)
    want_idx, _ = brute_force(cur, sty, history, variety=0.7)
    idx, _ = match(normalised_patches(cur), normalised_patches(sty), history, 0.7, budget_mb=1e-4)
    assert torch.equal(idx, want_idx)
    plain, _ = match(normalised_patches(cur), normalised_patches(sty))
    assert not torch.equal(idx, plain)  # the penalty changes some matches


def test_critic_loss_is_zero_on_the_target_and_pulls_towards_matches():
    g = torch.Generator().manual_seed(2)
    sty = torch.randn(1, 8, 10, 10, generator=g)
    critic = PatchCritic("x", weight=100.0)
    critic.set_target(sty)
    assert critic.loss(sty).item() < 1e-10
    cur = torch.randn(1, 8, 10, 10, generator=g, requires_grad=True)
    loss = critic.loss(cur)
    loss.backward()
    assert loss.item() > 0 and cur.grad.abs().sum() > 0


def test_tv_is_zero_on_flat_images_and_positive_on_edges():
    assert tv_loss(torch.ones(1, 3, 8, 8)).item() == 0
    x = torch.zeros(1, 3, 8, 8)
    x[..., 4:] = 1
    assert tv_loss(x).item() > 0
