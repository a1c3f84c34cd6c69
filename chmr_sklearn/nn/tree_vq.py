"""Tree-structured vector quantisation (Tree-VQ) with parent-constrained routing.

The codebook is a binary tree: level ``h = 0 .. depth-1`` holds ``2**(h+1)``
unit-norm codes (2, 4, ..., 64 for depth 6: 126 codes). A latent ``z`` is
routed top-down by cosine similarity: free choice between the 2 codes of
level 0, then at level ``h`` only the two children ``2p`` and ``2p+1`` of the
code ``p`` chosen at level ``h-1``. The path (one code index per level) is a
hierarchical discrete description of the molecule ("tree codes").

Per-level loss, with ``q`` the chosen code and ``sg`` = stop-gradient::

    forward term  mean_b [(1 - cos(sg[q_b], z_b)) + (1 - cos(q_b, sg[z_b]))]
    reverse term  mean_{reachable codes k} [(1 - cos(sg[e_k], z_b*)) + (1 - cos(e_k, sg[z_b*]))]
    L_h = forward + eta * reverse

where ``b*`` is the batch sample nearest to code ``k`` among the samples whose
level-``h-1`` code is ``k``'s parent. The reverse term keeps codes from dying.
Codes that no sample can reach are left out; the official code instead pulls
them towards sample 0 (an artefact of ``argmin`` over an all-inf column).
The total loss is the mean of ``L_h`` over levels.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["TreeVQ", "TreeVQOutput"]


class TreeVQOutput(NamedTuple):
    """Result of :meth:`TreeVQ.forward`.

    Attributes
    ----------
    loss : Tensor
        Scalar Tree-VQ loss (mean over levels).
    codes : LongTensor of shape (B, n_levels)
        Index of the chosen code within each level (``codes[:, h] // 2 ==
        codes[:, h-1]`` in tree mode).
    quantized : Tensor of shape (B, dim)
        Straight-through output: value = unit-norm deepest code, gradient = identity to ``z``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> out = TreeVQ(dim=8, depth=3)(torch.randn(4, 8))
    >>> out.codes.shape, out.quantized.shape, out.loss.dim()
    (torch.Size([4, 3]), torch.Size([4, 8]), 0)
    >>> bool((out.codes[:, 1] // 2 == out.codes[:, 0]).all())
    True
    """

    loss: Tensor
    codes: Tensor
    quantized: Tensor


def _two_sided_cosine_loss(a: Tensor, b: Tensor) -> Tensor:
    """``(1 - cos(sg[a], b)) + (1 - cos(a, sg[b]))`` per row, for unit-norm rows."""
    return (1.0 - (a.detach() * b).sum(-1)) + (1.0 - (a * b.detach()).sum(-1))


class TreeVQ(nn.Module):
    """Tree-structured vector quantiser with cosine distance.

    Parameters
    ----------
    dim : int, default=300
        Latent and code size.
    depth : int, default=6
        Number of tree levels; level ``h`` has ``2**(h+1)`` codes.
    eta : float, default=1.0
        Weight of the reverse (code -> nearest sample) term.
    flat : bool, default=False
        Ablation: one unconstrained level of ``2**depth`` codes instead of the tree.

    Attributes
    ----------
    codebooks : nn.ParameterList
        One (n_codes, dim) matrix per level, initialised N(0, 1) and
        L2-normalised whenever used.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> vq = TreeVQ(dim=8, depth=3)
    >>> out = vq(torch.randn(5, 8))
    >>> out.codes.shape, out.quantized.shape, out.loss.dim()
    (torch.Size([5, 3]), torch.Size([5, 8]), 0)
    >>> bool((out.codes[:, 1:] // 2 == out.codes[:, :-1]).all())  # children of the parent
    True
    """

    def __init__(self, dim: int = 300, depth: int = 6, eta: float = 1.0, flat: bool = False):
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.dim = int(dim)
        self.depth = int(depth)
        self.eta = float(eta)
        self.flat = bool(flat)
        sizes = [2**self.depth] if self.flat else [2 ** (h + 1) for h in range(self.depth)]
        self.codebooks = nn.ParameterList(nn.Parameter(torch.randn(k, self.dim)) for k in sizes)

    @property
    def n_levels(self) -> int:
        """Number of levels (``depth`` for the tree, 1 when ``flat``)."""
        return len(self.codebooks)

    @property
    def level_sizes(self) -> list[int]:
        """Number of codes at each level."""
        return [cb.shape[0] for cb in self.codebooks]

    def codebook(self, level: int) -> Tensor:
        """Unit-norm codes of ``level``, shape (n_codes, dim)."""
        return F.normalize(self.codebooks[level], dim=1)

    def _allowed(self, parent: Tensor | None, n_codes: int, batch_size: int, device) -> Tensor:
        """Boolean (B, n_codes) mask of the codes each sample may choose."""
        if parent is None:
            return torch.ones(batch_size, n_codes, dtype=torch.bool, device=device)
        children_of = torch.arange(n_codes, device=device) // 2  # parent index of every code
        return children_of[None, :] == parent[:, None]

    def forward(self, z: Tensor) -> TreeVQOutput:
        """Route ``z`` through the tree and compute the Tree-VQ loss.

        Parameters
        ----------
        z : Tensor of shape (B, dim)

        Returns
        -------
        TreeVQOutput
            ``(loss, codes, quantized)``.
        """
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"expected z of shape (B, {self.dim}), got {tuple(z.shape)}")
        batch_size = z.shape[0]
        if batch_size == 0:
            zero = sum(cb.sum() for cb in self.codebooks) * 0.0
            codes = torch.zeros(0, self.n_levels, dtype=torch.long, device=z.device)
            return TreeVQOutput(zero + (z * 0.0).sum(), codes, z)

        zn = F.normalize(z, dim=1)
        parent: Tensor | None = None
        codes, level_losses = [], []
        for level in range(self.n_levels):
            codes_h = self.codebook(level)
            allowed = self._allowed(parent, codes_h.shape[0], batch_size, z.device)
            # Cosine similarity; forbidden codes get -inf (= +inf cosine distance).
            sim = (zn @ codes_h.T).masked_fill(~allowed, float("-inf"))
            choice = sim.argmax(dim=1)

            forward_term = _two_sided_cosine_loss(codes_h[choice], zn).mean()

            # Reverse: each reachable code is pulled towards its nearest allowed sample.
            reachable = allowed.any(dim=0)
            nearest = sim.argmax(dim=0)  # (n_codes,) sample index; garbage where unreachable
            reverse = _two_sided_cosine_loss(codes_h, zn[nearest])
            reverse = torch.where(reachable, reverse, torch.zeros_like(reverse))
            reverse_term = reverse.sum() / reachable.sum().clamp(min=1)

            level_losses.append(forward_term + self.eta * reverse_term)
            codes.append(choice)
            parent = None if self.flat else choice

        q_last = self.codebook(self.n_levels - 1)[codes[-1]]
        return TreeVQOutput(
            loss=torch.stack(level_losses).mean(),
            codes=torch.stack(codes, dim=1),
            quantized=z + (q_last - z).detach(),  # straight-through estimator
        )

    @torch.no_grad()
    def route(self, z: Tensor) -> Tensor:
        """Tree codes of ``z`` without building a graph.

        Parameters
        ----------
        z : Tensor of shape (B, dim)

        Returns
        -------
        LongTensor of shape (B, n_levels)
        """
        return self.forward(z).codes
