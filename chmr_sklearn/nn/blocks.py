"""Small building blocks: modality projector, CPR decoder, downstream MLP head."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ._random import GeneratorDropout

__all__ = ["Projector", "Decoder", "MLPHead"]


class Projector(nn.Sequential):
    """Map one modality into the shared latent space.

    ``LayerNorm(in_dim) -> Linear(in_dim, out_dim) -> SiLU`` (CHMR ``modal_projectors``).

    Parameters
    ----------
    in_dim : int
        Size of the modality's input features.
    out_dim : int, default=300
        Latent size.

    Examples
    --------
    >>> import torch
    >>> Projector(10, 4)(torch.randn(5, 10)).shape
    torch.Size([5, 4])
    """

    def __init__(self, in_dim: int, out_dim: int = 300):
        super().__init__(nn.LayerNorm(in_dim), nn.Linear(in_dim, out_dim), nn.SiLU())
        self.in_dim = int(in_dim)
        self.out_dim = int(out_dim)


class Decoder(nn.Sequential):
    """Reconstruct a context-graph node's features from a latent (CPR).

    ``LayerNorm(in_dim) -> Linear(in_dim, hidden) -> GELU -> Dropout -> Linear(hidden, out_dim)``.
    The output is a logit per feature (the CPR loss is BCE-with-logits).

    Parameters
    ----------
    in_dim : int, default=300
        Latent size.
    out_dim : int
        Number of reconstructed features (required).
    hidden : int, default=1200
    dropout : float, default=0.3

    Examples
    --------
    >>> import torch
    >>> Decoder(4, 7, hidden=8)(torch.randn(2, 4)).shape
    torch.Size([2, 7])
    """

    def __init__(
        self, in_dim: int = 300, out_dim: int | None = None, hidden: int = 1200, dropout: float = 0.3
    ):
        if out_dim is None:
            raise TypeError("Decoder() missing required argument 'out_dim'")
        super().__init__(
            nn.LayerNorm(in_dim),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            GeneratorDropout(dropout),
            nn.Linear(hidden, out_dim),
        )
        self.in_dim = int(in_dim)
        self.out_dim = int(out_dim)


class _BatchNormAllowingOneRow(nn.BatchNorm1d):
    """BatchNorm1d that falls back on running statistics for a 1-row training batch.

    Plain BatchNorm raises on a single row in training mode; skorch's last
    batch of an epoch can have exactly one row, so the head must survive it.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] == 1 and self.track_running_stats:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias,
                training=False, eps=self.eps,
            )
        return super().forward(x)


class MLPHead(nn.Sequential):
    """Downstream prediction head (CHMR fine-tuning ``MLP``).

    ``Linear(in_dim, hidden) -> LayerNorm|BatchNorm1d -> GELU -> Dropout -> Linear(hidden, out_dim)``.

    Parameters
    ----------
    in_dim : int
        Embedding size (2091 for ``[fp ; z1d ; z2d ; z3d]``).
    hidden : int
        Hidden width.
    out_dim : int
        Number of tasks (one logit or value per task).
    dropout : float, default=0.5
    norm : {"layer", "batch"}, default="layer"
        Normalisation after the first Linear. ``"batch"`` uses the running
        statistics when a training batch has a single row instead of failing.

    Examples
    --------
    >>> import torch
    >>> MLPHead(6, 8, 3, norm="batch")(torch.randn(4, 6)).shape
    torch.Size([4, 3])
    """

    def __init__(
        self, in_dim: int, hidden: int, out_dim: int, dropout: float = 0.5, norm: str = "layer"
    ):
        if norm == "layer":
            norm_layer: nn.Module = nn.LayerNorm(hidden)
        elif norm == "batch":
            norm_layer = _BatchNormAllowingOneRow(hidden)
        else:
            raise ValueError(f"norm must be 'layer' or 'batch', got {norm!r}")
        super().__init__(
            nn.Linear(in_dim, hidden),
            norm_layer,
            nn.GELU(),
            GeneratorDropout(dropout),
            nn.Linear(hidden, out_dim),
        )
        self.in_dim, self.hidden, self.out_dim = int(in_dim), int(hidden), int(out_dim)
        self.norm = norm
