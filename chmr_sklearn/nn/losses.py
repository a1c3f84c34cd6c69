"""Loss functions of CHMR pretraining (SCA, CPR) and of the downstream heads.

Conventions: a NaN in a target means "not observed" and the entry is left
out of both the numerator and the denominator of the mean. When nothing is
observed the masked losses return ``0`` that is still connected to the
prediction's graph, so ``loss.backward()`` works and gives zero gradients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "info_nce",
    "vicreg",
    "masked_weighted_bce",
    "masked_weighted_mse",
    "masked_bce_loss",
    "masked_l1_loss",
    "masked_mse_loss",
]


def info_nce(anchor: Tensor, positive: Tensor, tau: float = 0.2, weights: Tensor | None = None) -> Tensor:
    """One-directional InfoNCE from ``anchor`` rows to ``positive`` rows.

    Row ``i`` of ``positive`` is the positive of row ``i`` of ``anchor``; the
    other rows of the batch are its negatives. Both are L2-normalised, the
    logits are ``anchor @ positive.T / tau`` and the loss is the mean
    cross-entropy with targets ``0..B-1``.

    Parameters
    ----------
    anchor, positive : Tensor of shape (B, D)
    tau : float, default=0.2
        Temperature.
    weights : Tensor of shape (B,), optional
        Non-negative weight of each row's cross-entropy (e.g. the confidence of a propagated
        profile); the loss is then their weighted mean. None: the plain mean.

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> eye = torch.eye(2)
    >>> round(info_nce(eye, eye).item(), 5)  # log(1 + exp(-1 / 0.2))
    0.00672
    >>> round(info_nce(eye, eye, weights=torch.tensor([1.0, 0.5])).item(), 5)
    0.00672
    """
    a = F.normalize(anchor, dim=1)
    p = F.normalize(positive, dim=1)
    logits = a @ p.T / tau
    targets = torch.arange(a.shape[0], device=a.device)
    if weights is None:
        return F.cross_entropy(logits, targets)
    per_row = F.cross_entropy(logits, targets, reduction="none")
    return (per_row * weights).sum() / weights.sum().clamp_min(1e-12)


def _offdiag_cov_penalty(z: Tensor) -> Tensor:
    """``||offdiag(cov(z))||_F^2 / D`` with the unbiased (B - 1) covariance."""
    b, d = z.shape
    zc = z - z.mean(dim=0)
    cov = zc.T @ zc / (b - 1)
    off = cov - torch.diag(torch.diagonal(cov))
    return off.pow(2).sum() / d


def vicreg(
    z1: Tensor,
    z2: Tensor,
    inv: float = 1.0,
    var: float = 1.0,
    cov: float = 1.0,
    eps: float = 1e-4,
) -> Tensor:
    """VICReg loss between two views (as in the CHMR code).

    ``inv * MSE(z1, z2)
    + var * sum_{z in (z1, z2)} mean_d relu(1 - sqrt(Var_b(z_d) + eps))
    + cov * sum_{z in (z1, z2)} ||offdiag(Cov(z))||_F^2 / D``,
    with unbiased (``B - 1``) variance and covariance.

    Parameters
    ----------
    z1, z2 : Tensor of shape (B, D), B >= 2
    inv, var, cov : float, default=1.0
        Weights of the invariance, variance and covariance terms.
    eps : float, default=1e-4

    Returns
    -------
    Tensor
        Scalar loss.

    Raises
    ------
    ValueError
        If the batch has fewer than two rows (variance is undefined).

    Examples
    --------
    >>> import torch
    >>> z = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])
    >>> round(vicreg(z, z).item(), 4)  # 2 views x mean(0, 1 - sqrt(0 + 1e-4))
    0.99
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(f"z1 and z2 must have the same 2-D shape, got {tuple(z1.shape)}, {tuple(z2.shape)}")
    if z1.shape[0] < 2:
        raise ValueError("vicreg needs a batch of at least 2 rows")
    loss = inv * F.mse_loss(z1, z2)
    for z in (z1, z2):
        std = torch.sqrt(z.var(dim=0) + eps)
        loss = loss + var * F.relu(1.0 - std).mean() + cov * _offdiag_cov_penalty(z)
    return loss


def _as_pred_shape(pred: Tensor, target: Tensor) -> Tensor:
    """Cast ``target`` to ``pred``'s dtype and shape.

    A target of shape (B,) for a prediction of shape (B, 1) is reshaped rather
    than broadcast to (B, B), the classic silent bug.
    """
    target = torch.as_tensor(target, device=pred.device).to(pred.dtype)
    if target.shape != pred.shape:
        if target.numel() != pred.numel():
            raise ValueError(
                f"target shape {tuple(target.shape)} does not match prediction shape {tuple(pred.shape)}"
            )
        target = target.reshape(pred.shape)
    return target


def _masked_mean(elementwise, pred: Tensor, target: Tensor, weight: Tensor | None) -> Tensor:
    """Mean of ``weight * elementwise(pred, target)`` over non-NaN targets."""
    target = _as_pred_shape(pred, target)
    observed = ~torch.isnan(target)
    # Fill NaNs before the loss: NaN * 0 is NaN, so masking afterwards is not enough.
    losses = elementwise(pred, torch.where(observed, target, torch.zeros_like(target)))
    if weight is not None:
        weight = torch.as_tensor(weight, device=pred.device).to(pred.dtype)
        if pred.dim() == 2 and weight.dim() == 1:
            weight = weight[:, None]  # one weight per row
        losses = losses * weight
    losses = torch.where(observed, losses, torch.zeros_like(losses))
    # clamp: with nothing observed the result is 0, still attached to pred's graph.
    return losses.sum() / observed.sum().clamp(min=1)


def masked_weighted_bce(logits: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Weighted BCE-with-logits averaged over observed (non-NaN) targets.

    This is the CPR reconstruction loss: ``mean_{non-NaN}(weight * BCE)``.
    The denominator is the number of observed entries, not the sum of weights.

    Parameters
    ----------
    logits : Tensor of shape (B, D) or (B,)
    target : Tensor of the same number of elements, values in [0, 1], NaN = masked
    weight : Tensor of shape (B,) (one weight per row) or broadcastable to ``logits``, optional

    Returns
    -------
    Tensor
        Scalar loss.

    Examples
    --------
    >>> import torch
    >>> logits = torch.zeros(2, 2)
    >>> target = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    >>> round(masked_weighted_bce(logits, target).item(), 4)  # log(2)
    0.6931
    """
    return _masked_mean(
        lambda p, t: F.binary_cross_entropy_with_logits(p, t, reduction="none"), logits, target, weight
    )


def masked_weighted_mse(pred: Tensor, target: Tensor, weight: Tensor | None = None) -> Tensor:
    """Weighted squared error averaged over observed (non-NaN) targets.

    Same conventions as :func:`masked_weighted_bce`.

    Examples
    --------
    >>> import torch
    >>> masked_weighted_mse(torch.zeros(3), torch.tensor([1.0, float("nan"), 3.0])).item()
    5.0
    """
    return _masked_mean(lambda p, t: (p - t) ** 2, pred, target, weight)


def masked_bce_loss(logits: Tensor, y: Tensor) -> Tensor:
    """Classification task loss: BCE-with-logits over labelled (non-NaN) entries.

    Examples
    --------
    >>> import torch
    >>> round(masked_bce_loss(torch.zeros(2, 1), torch.tensor([1.0, float("nan")])).item(), 4)
    0.6931
    """
    return masked_weighted_bce(logits, y)


def masked_l1_loss(pred: Tensor, y: Tensor) -> Tensor:
    """Regression task loss: absolute error over labelled (non-NaN) entries.

    Examples
    --------
    >>> import torch
    >>> masked_l1_loss(torch.zeros(3), torch.tensor([1.0, float("nan"), -3.0])).item()
    2.0
    """
    return _masked_mean(lambda p, t: (p - t).abs(), pred, y, None)


def masked_mse_loss(pred: Tensor, y: Tensor) -> Tensor:
    """Regression task loss: squared error over labelled (non-NaN) entries.

    Examples
    --------
    >>> import torch
    >>> masked_mse_loss(torch.zeros(3), torch.tensor([1.0, float("nan"), -3.0])).item()
    5.0
    """
    return masked_weighted_mse(pred, y)
