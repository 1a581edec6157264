import os
import subprocess
import sys

import pytest
import torch
from conftest import TINY, from_yaml

from synthlab.losses import PatchCritic, match, tv_loss
from synthlab.losses.patches import normalised_patches
from synthlab.nets import fused


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
    critic = from_yaml(PatchCritic, "critic/patches", node="patches", taps=["x"], weight=100.0)
    critic.set_target({"x": sty})
    assert critic.loss({"x": sty}).item() < 1e-10
    cur = torch.randn(1, 8, 10, 10, generator=g, requires_grad=True)
    loss = critic.loss({"x": cur})
    loss.backward()
    assert loss.item() > 0 and cur.grad.abs().sum() > 0


def test_tv_is_zero_on_flat_images_and_positive_on_edges():
    assert tv_loss(torch.ones(1, 3, 8, 8)).item() == 0
    x = torch.zeros(1, 3, 8, 8)
    x[..., 4:] = 1
    assert tv_loss(x).item() > 0


def _critics(variety, **kw):
    from synthlab.losses import ReferencePatchCritic

    g = torch.Generator().manual_seed(3)
    sty = torch.randn(1, 8, 12, 11, generator=g)
    fast = from_yaml(PatchCritic, "critic/patches", node="patches", taps=["x"], weight=100.0, variety=variety, **kw)
    ref = from_yaml(ReferencePatchCritic, "critic/reference", node="reference", taps=["x"], weight=100.0, variety=variety)
    fast.set_target({"x": sty})
    ref.set_target({"x": sty})
    return fast, ref, g


def test_unfold_free_loss_equals_the_reference_loss_and_gradient():
    for variety in (0.0, 0.5):
        fast, ref, g = _critics(variety)
        cur = torch.randn(1, 8, 10, 13, generator=g)
        for _ in range(3):  # several evaluations: the variety history evolves the same way
            a, b = cur.clone().requires_grad_(), cur.clone().requires_grad_()
            la, lb = fast.loss({"x": a}), ref.loss({"x": b})
            la.backward(), lb.backward()
            assert torch.allclose(la, lb, rtol=1e-5)
            assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-7)
            cur = cur + 0.3 * torch.randn(cur.shape, generator=g)


def test_matches_are_reused_for_k_evaluations_and_reset_by_a_new_target():
    fast, _, g = _critics(0.5, match_every=3)
    part = fast.parts["x"]
    cur = torch.randn(1, 8, 10, 13, generator=g)
    for _ in range(7):
        fast.loss({"x": cur + 0.1 * torch.randn(cur.shape, generator=g)})
    assert part.matches == 3  # evaluations 0, 3 and 6
    fast.set_target({"x": torch.randn(1, 8, 12, 11, generator=g)})
    fast.loss({"x": cur})
    assert part.matches == 1  # a new phase matches at once (and counts afresh)
    fast.loss({"x": torch.randn(1, 8, 14, 14, generator=g)})
    assert part.matches == 2  # so does a new feature size


def test_bf16_matching_agrees_with_fp32_on_nearly_every_patch():
    g = torch.Generator().manual_seed(4)
    cur, sty = torch.randn(1, 64, 20, 20, generator=g), torch.randn(1, 64, 20, 20, generator=g)
    sty[..., :10, :] = cur[..., :10, :] + 0.05 * torch.randn(1, 64, 10, 20, generator=g)  # clear winners
    a, b = normalised_patches(cur), normalised_patches(sty)
    i32, _ = match(a, b)
    i16, best16 = match(a.bfloat16(), b.bfloat16())
    assert best16.dtype == torch.float32
    assert (i32 == i16).float().mean() > 0.95


def test_bad_critic_options_are_named():
    import pytest

    from synthlab.errors import SynthlabError

    with pytest.raises(SynthlabError, match="match_every"):
        from_yaml(PatchCritic, "critic/patches", node="patches", taps=["x"], match_every=0)
    with pytest.raises(SynthlabError, match="float32, bfloat16, float16"):
        from_yaml(PatchCritic, "critic/patches", node="patches", taps=["x"], match_dtype="int8")
    with pytest.raises(SynthlabError, match="taps"):
        from_yaml(PatchCritic, "critic/patches", node="patches", taps="x")
    with pytest.raises(SynthlabError, match="weight"):
        from_yaml(PatchCritic, "critic/patches", node="patches", taps=["x"], weight=float("inf"))


def test_pixel_matching_equals_patch_matching_in_any_block_size():
    from synthlab.losses.patches import match_features

    g = torch.Generator().manual_seed(5)
    cur, sty = torch.randn(1, 6, 9, 11, generator=g), torch.randn(1, 6, 10, 8, generator=g)
    history = torch.rand(8 * 6, generator=g)
    for variety, hist in ((0.0, None), (0.7, history)):
        want_idx, want_best = match(normalised_patches(cur), normalised_patches(sty), hist, variety)
        for budget in (64.0, 1e-4):  # one block, and one output row per block
            idx, best = match_features(cur, sty, hist, variety, budget)
            assert torch.equal(idx, want_idx)
            assert torch.allclose(best, want_best, atol=1e-6)


@pytest.mark.skipif(fused.library("patchscore") is None, reason=f"no C++ kernel: {fused.why_not('patchscore')}")
def test_the_cpu_score_kernel_gives_torchs_matches_bit_for_bit(monkeypatch):
    """patchscore.cc sums the 9 shifted pixel scores in torch's order: the same bits, so the
    same matches and pictures; with and without the variety penalty, in blocks of any size, for
    style rows shorter than one vector, of whole vectors only and of whole vectors plus a tail."""
    from synthlab.losses.patches import match_features

    g = torch.Generator().manual_seed(7)
    cur = torch.randn(1, 16, 13, 17, generator=g).relu()
    for ws in (9, 34, 39):  # patch rows of 7, 32 and 37 style patches: 16-float vectors and tails
        sty = torch.randn(1, 16, 11, ws, generator=g).relu()
        history = torch.rand(9 * (ws - 2), generator=g)
        for variety, hist in ((0.0, None), (0.5, history)):
            for budget in (64.0, 1e-4):
                fast = match_features(cur, sty, hist, variety, budget)
                with monkeypatch.context() as m:
                    m.setattr(fused, "library", lambda name="rescppn": None)  # the torch path
                    slow = match_features(cur, sty, hist, variety, budget)
                assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1])


def test_occurrence_penalty_counts_the_last_matches():
    """critic.patches.occurrence: a style patch's score loses 2 x occurrence x (the output patches
    that chose it at the last matching) / (their fair share); the next matches are brute force's
    with that penalty."""
    from synthlab.losses.patches import PatchLayer

    g = torch.Generator().manual_seed(3)
    sty, cur = torch.rand(1, 4, 7, 8, generator=g), torch.rand(1, 4, 9, 6, generator=g)
    layer = PatchLayer(1.0, 0.0, 16.0, 1, "float32", occurrence=0.3)
    layer.set_target(sty)
    first = layer.match(cur)  # warm-up match, then a penalised one
    m, n = 5 * 6, 7 * 4
    plain, _ = brute_force(cur, sty)
    counts = torch.bincount(plain, minlength=m).double()
    want, _ = brute_force(cur, sty, counts, variety=2 * 0.3 * m / n)
    assert torch.equal(first, want) and not torch.equal(first, plain)
    assert torch.equal(layer.counts, torch.bincount(first, minlength=m))


def test_a_texture_without_a_compiler_matches_and_sorts_on_torch_and_says_so_once(tmp_path):
    """No g++: the texture task runs (matching and the sliced sort on torch's ops), writes its
    texture, and says once, for both kernels, that they are not built."""
    env = {**os.environ, "CXX": "/nonexistent/g++", "SYNTHLAB_KERNELS": str(tmp_path / "k")}
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "synthlab", *TINY, f"hydra.run.dir={run}"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (run / "texture.png").is_file()
    notes = [l for l in r.stderr.splitlines() if l.startswith("synthlab: the fused CPU kernel")]
    assert len(notes) == 1 and "/nonexistent/g++" in notes[0] and "torch's ops run instead" in notes[0]
