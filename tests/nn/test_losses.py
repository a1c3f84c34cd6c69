"""Tests of the losses against values computed by hand or with numpy formulas."""

import math

import numpy as np
import pytest
import torch

from chmr_sklearn.nn import (
    info_nce,
    masked_bce_loss,
    masked_l1_loss,
    masked_mse_loss,
    masked_weighted_bce,
    masked_weighted_mse,
    vicreg,
)

NAN = float("nan")


def softplus(v):
    return math.log1p(math.exp(v))


# ---------------------------------------------------------------- InfoNCE


def test_info_nce_orthonormal_pairs():
    eye = torch.eye(3)
    # Each row: logit 1/0.2 = 5 for the positive, 0 for two negatives.
    expected = -math.log(math.exp(5) / (math.exp(5) + 2))
    assert info_nce(eye, eye).item() == pytest.approx(expected, rel=1e-6)


def test_info_nce_hand_computed():
    anchor = torch.tensor([[3.0, 0.0], [0.0, 2.0]])  # normalises to e1, e2
    positive = torch.tensor([[1.0, 1.0], [0.0, 5.0]])  # normalises to (1,1)/sqrt2, e2
    s = 1 / math.sqrt(2) / 0.2
    row0 = -math.log(math.exp(s) / (math.exp(s) + math.exp(0.0)))  # logits [s, 0], target 0
    row1 = -math.log(math.exp(5.0) / (math.exp(s) + math.exp(5.0)))  # logits [s, 5], target 1
    assert info_nce(anchor, positive).item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_info_nce_is_one_directional_and_uses_tau():
    anchor = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    positive = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    assert info_nce(anchor, positive).item() != pytest.approx(info_nce(positive, anchor).item())
    eye = torch.eye(2)
    assert info_nce(eye, eye, tau=1.0).item() == pytest.approx(softplus(-1.0), rel=1e-6)


# ---------------------------------------------------------------- VICReg


def _vicreg_numpy(z1, z2, inv=1.0, var=1.0, cov=1.0, eps=1e-4):
    out = inv * np.mean((z1 - z2) ** 2)
    for z in (z1, z2):
        out += var * np.mean(np.maximum(0.0, 1.0 - np.sqrt(z.var(axis=0, ddof=1) + eps)))
        c = np.cov(z, rowvar=False)  # unbiased, centred
        out += cov * (np.sum(c**2) - np.sum(np.diag(c) ** 2)) / z.shape[1]
    return out


def test_vicreg_hand_computed():
    z1 = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    z2 = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    # inv: mean of squared diffs (0, 1, 0, 1) = 0.5
    # var: z1 column variances (2, 0) -> mean(relu(1 - sqrt(2.0001)), 1 - 0.01) = 0.495
    #      z2 column variances (2, 2) -> 0
    # cov: z1 covariance offdiag 0; z2 covariance [[2, 2], [2, 2]] -> (4 + 4) / 2 = 4
    expected = 0.5 + 0.495 + 4.0
    assert vicreg(z1, z2).item() == pytest.approx(expected, rel=1e-6)


def test_vicreg_matches_numpy_formula_and_weights():
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 4)) * 0.7, rng.normal(size=(6, 4)) * 1.3
    got = vicreg(torch.tensor(z1), torch.tensor(z2), inv=2.0, var=0.5, cov=3.0)
    assert got.item() == pytest.approx(_vicreg_numpy(z1, z2, 2.0, 0.5, 3.0), rel=1e-9)


def test_vicreg_rejects_single_row():
    with pytest.raises(ValueError, match="2 rows"):
        vicreg(torch.ones(1, 3), torch.ones(1, 3))


# ---------------------------------------------------------------- masked, weighted


def test_masked_weighted_bce_ignores_nan_and_weights_rows():
    logits = torch.tensor([[0.0, 5.0], [0.0, 2.0]])
    target = torch.tensor([[1.0, NAN], [0.0, 1.0]])
    # observed entries: BCE(0,1) = log 2, BCE(0,0) = log 2, BCE(2,1) = softplus(-2)
    plain = (2 * math.log(2) + softplus(-2)) / 3
    assert masked_weighted_bce(logits, target).item() == pytest.approx(plain, rel=1e-6)
    row_w = torch.tensor([2.0, 0.5])
    weighted = (2 * math.log(2) + 0.5 * math.log(2) + 0.5 * softplus(-2)) / 3
    assert masked_weighted_bce(logits, target, row_w).item() == pytest.approx(weighted, rel=1e-6)


def test_masked_weighted_bce_elementwise_weight_and_soft_target():
    logits = torch.tensor([[1.0, -1.0]])
    target = torch.tensor([[0.25, NAN]])
    weight = torch.tensor([[4.0, NAN]])  # a NaN weight on a masked entry is harmless
    # BCE(x, t) = softplus(x) - t * x
    expected = 4.0 * (softplus(1.0) - 0.25)
    assert masked_weighted_bce(logits, target, weight).item() == pytest.approx(expected, rel=1e-6)


def test_masked_weighted_mse_values():
    pred = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = torch.tensor([[2.0, NAN, 1.0], [NAN, 3.0, NAN]])
    # squared errors 1, 4, 9 over 3 observed entries
    assert masked_weighted_mse(pred, target).item() == pytest.approx(14 / 3)
    w = torch.tensor([3.0, 1.0])
    assert masked_weighted_mse(pred, target, w).item() == pytest.approx((3 + 12 + 9) / 3)


@pytest.mark.parametrize("fn", [masked_weighted_bce, masked_weighted_mse,
                                masked_bce_loss, masked_l1_loss, masked_mse_loss])
def test_nothing_observed_gives_zero_with_grad(fn):
    pred = torch.randn(3, 2, requires_grad=True)
    loss = fn(pred, torch.full((3, 2), NAN))
    assert loss.item() == 0.0 and loss.grad_fn is not None
    loss.backward()
    assert torch.equal(pred.grad, torch.zeros(3, 2))


def test_nan_targets_give_zero_and_finite_gradients():
    pred = torch.zeros(2, 2, requires_grad=True)
    target = torch.tensor([[1.0, NAN], [NAN, 0.0]])
    masked_weighted_bce(pred, target).backward()
    # d/dx BCE(x, t) = sigmoid(x) - t, divided by 2 observed entries
    assert pred.grad.tolist() == [[pytest.approx(-0.25), 0.0], [0.0, pytest.approx(0.25)]]


# ---------------------------------------------------------------- task losses


def test_task_losses_hand_computed():
    pred = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    y = torch.tensor([[1.0, NAN], [0.0, 1.0]])
    bce = (math.log(2) + softplus(2.0) + softplus(1.0)) / 3  # softplus(-x * (2t - 1))
    assert masked_bce_loss(pred, y).item() == pytest.approx(bce, rel=1e-6)
    assert masked_l1_loss(pred, y).item() == pytest.approx((1 + 2 + 2) / 3)
    assert masked_mse_loss(pred, y).item() == pytest.approx((1 + 4 + 4) / 3)


def test_task_losses_reshape_a_flat_target_instead_of_broadcasting():
    pred = torch.tensor([[1.0], [3.0]])
    y = np.array([0.0, np.nan])  # (B,) float64 from numpy, prediction (B, 1)
    assert masked_l1_loss(pred, torch.as_tensor(y)).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shape"):
        masked_l1_loss(pred, torch.zeros(3))
