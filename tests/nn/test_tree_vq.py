"""Tests of the tree-structured vector quantiser."""

import math

import numpy as np
import pytest
import torch

from chmr_sklearn.nn import TreeVQ, TreeVQOutput


def _set_codebooks(vq, levels):
    with torch.no_grad():
        for param, values in zip(vq.codebooks, levels):
            param.copy_(torch.tensor(values, dtype=torch.float32))


def test_codebook_sizes():
    vq = TreeVQ()
    assert vq.n_levels == 6 and vq.level_sizes == [2, 4, 8, 16, 32, 64]
    assert sum(p.numel() for p in vq.parameters()) == 126 * 300
    flat = TreeVQ(depth=6, flat=True)
    assert flat.n_levels == 1 and flat.level_sizes == [64]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_routing_never_leaves_the_parents_children(seed):
    torch.manual_seed(seed)
    vq = TreeVQ(dim=16, depth=5)
    out = vq(torch.randn(200, 16) * (seed + 1))
    assert isinstance(out, TreeVQOutput)
    assert out.codes.shape == (200, 5) and out.codes.dtype == torch.long
    for h in range(1, 5):
        assert torch.equal(out.codes[:, h] // 2, out.codes[:, h - 1])
    assert (out.codes[:, -1] < 32).all() and (out.codes >= 0).all()


def test_routing_picks_the_most_similar_allowed_child():
    torch.manual_seed(0)
    vq = TreeVQ(dim=8, depth=4)
    z = torch.randn(50, 8)
    codes = vq.route(z).numpy()
    zn = (z / z.norm(dim=1, keepdim=True)).numpy()
    for b in range(50):
        parent = None
        for h in range(4):
            e = vq.codebooks[h].detach().numpy()
            e = e / np.linalg.norm(e, axis=1, keepdims=True)
            candidates = range(e.shape[0]) if parent is None else (2 * parent, 2 * parent + 1)
            best = max(candidates, key=lambda k: float(zn[b] @ e[k]))
            assert codes[b, h] == best
            parent = best


def test_routing_can_differ_from_the_unconstrained_nearest_code():
    # The deepest code nearest to z overall is a child of the *other* level-0 code.
    vq = TreeVQ(dim=2, depth=2)
    _set_codebooks(vq, [[[1, 0], [0, 1]], [[1, -1], [-1, 0], [1, 0.1], [0, 1]]])
    z = torch.tensor([[1.0, 0.2]])
    assert vq.route(z).tolist() == [[0, 0]]  # level 0 -> code 0, so only codes 0/1 at level 1
    flat = TreeVQ(dim=2, depth=2, flat=True)
    _set_codebooks(flat, [[[1, -1], [-1, 0], [1, 0.1], [0, 1]]])
    assert flat.route(z).tolist() == [[2]]


def test_loss_hand_computed_depth_1():
    vq = TreeVQ(dim=2, depth=1, eta=0.5)
    _set_codebooks(vq, [[[2, 0], [0, 3]]])  # normalised: e1, e2
    z = torch.tensor([[5.0, 0.0]])
    # forward: z -> e1, cos 1 -> 0.  reverse: e1 -> z (cos 1) 0; e2 -> z (cos 0) 2; mean 1.
    assert vq(z).loss.item() == pytest.approx(0.5 * 1.0)


def test_loss_hand_computed_unreachable_codes_are_ignored():
    vq = TreeVQ(dim=2, depth=2, eta=1.0)
    _set_codebooks(vq, [[[1, 0], [0, 1]], [[1, 0], [1, 1], [0, 1], [-1, 0]]])
    z = torch.tensor([[1.0, 0.0]])
    level0 = 0.0 + (0.0 + 2.0) / 2  # both level-0 codes reachable
    c = 1 / math.sqrt(2)
    level1 = 0.0 + (0.0 + 2 * (1 - c)) / 2  # only children 0, 1 of code 0 reachable
    # (The official code would also pull codes 2 and 3 towards sample 0: +2 and +4.)
    out = vq(z)
    assert out.codes.tolist() == [[0, 0]]
    assert out.loss.item() == pytest.approx((level0 + level1) / 2, rel=1e-6)


def test_quantized_is_straight_through():
    torch.manual_seed(0)
    vq = TreeVQ(dim=4, depth=3)
    z = torch.randn(6, 4, requires_grad=True)
    out = vq(z)
    last = vq.codebook(2)[out.codes[:, -1]]
    torch.testing.assert_close(out.quantized, last)
    torch.testing.assert_close(out.quantized.norm(dim=1), torch.ones(6))
    w = torch.randn(6, 4)
    (out.quantized * w).sum().backward()
    torch.testing.assert_close(z.grad, w)  # identity gradient to z


def test_loss_gradients_reach_codebooks_and_inputs():
    torch.manual_seed(0)
    vq = TreeVQ(dim=8, depth=3)
    z = torch.randn(10, 8, requires_grad=True)
    vq(z).loss.backward()
    assert z.grad.abs().sum() > 0
    for cb in vq.codebooks:
        assert cb.grad is not None and cb.grad.abs().sum() > 0


@pytest.mark.parametrize("flat", [False, True])
def test_loss_decreases_when_optimised(flat):
    torch.manual_seed(0)
    vq = TreeVQ(dim=8, depth=3, flat=flat)
    z = torch.randn(32, 8, requires_grad=True)
    opt = torch.optim.Adam([z, *vq.parameters()], lr=0.05)
    losses = []
    for _ in range(30):
        loss = vq(z).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_flat_mode_codes():
    torch.manual_seed(0)
    vq = TreeVQ(dim=8, depth=4, flat=True)
    out = vq(torch.randn(300, 8))
    assert out.codes.shape == (300, 1)
    assert out.codes.min() >= 0 and out.codes.max() < 16
    assert len(out.codes.unique()) > 2  # unconstrained: many of the 16 codes get used


def test_route_matches_forward_and_builds_no_graph():
    torch.manual_seed(0)
    vq = TreeVQ(dim=8, depth=3)
    z = torch.randn(12, 8, requires_grad=True)
    codes = vq.route(z)
    assert torch.equal(codes, vq(z).codes) and not codes.requires_grad


def test_empty_batch():
    vq = TreeVQ(dim=4, depth=3)
    out = vq(torch.zeros(0, 4))
    assert out.codes.shape == (0, 3) and out.loss.item() == 0.0 and out.loss.requires_grad


def test_wrong_dim_raises():
    with pytest.raises(ValueError, match="shape"):
        TreeVQ(dim=4, depth=2)(torch.zeros(3, 5))


def test_initialisation_is_deterministic():
    torch.manual_seed(5)
    a = TreeVQ(dim=4, depth=3)
    torch.manual_seed(5)
    b = TreeVQ(dim=4, depth=3)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
