"""Randomness without torch's global generator: seeded initialisation and dropout.

``torch.manual_seed`` sets a process-wide generator, so two fits running in threads draw from
(and reseed) the same stream and disturb each other. Modules of this package therefore accept
a local :class:`torch.Generator`:

* :func:`init_parameters` re-draws every randomly initialised parameter of a module from a
  local generator, with the same distributions as the modules' own ``reset_parameters``
  (``nn.Linear``: Kaiming-uniform weights, uniform bias; ``nn.Embedding`` of the OGB
  encoders: Xavier-uniform; Tree-VQ codebooks: N(0, 1)); constant initialisations
  (norm layers, the virtual node, GIN's ``eps``) are left as they are.
* :class:`GeneratorDropout` and :func:`dropout` draw their masks from the generator set with
  :func:`set_dropout_generator`, and behave exactly as ``F.dropout`` (global generator) when
  none is set, so code that does not set one is unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GeneratorDropout", "dropout", "init_parameters", "set_dropout_generator"]


def dropout(x: Tensor, p: float, training: bool, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout drawing its mask from ``generator`` (``F.dropout`` when it is None).

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a = dropout(torch.ones(2, 4), 0.5, True, g)
    >>> b = dropout(torch.ones(2, 4), 0.5, True, torch.Generator().manual_seed(0))
    >>> torch.equal(a, b), sorted(set(a.flatten().tolist())) <= [0.0, 2.0]
    (True, True)
    """
    if generator is None or not training or p == 0.0:
        return F.dropout(x, p, training=training)
    if p == 1.0:
        return x * 0.0
    keep = torch.empty(x.shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - p, generator=generator)
    return x * keep / (1.0 - p)


class GeneratorDropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from ``self.generator`` when one is set.

    Examples
    --------
    >>> drop = GeneratorDropout(0.5)
    >>> drop.generator = torch.Generator().manual_seed(1)
    >>> drop(torch.ones(3, 5)).shape
    torch.Size([3, 5])
    """

    generator: torch.Generator | None = None

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.generator)


def set_dropout_generator(module: nn.Module, generator: torch.Generator | None) -> None:
    """Let every dropout of ``module`` that supports it draw from ``generator`` (None: global).

    Examples
    --------
    >>> from chmr_sklearn.nn import Decoder
    >>> dec = Decoder(4, 3, hidden=8)
    >>> set_dropout_generator(dec, torch.Generator().manual_seed(0))
    >>> dec[3].generator is not None
    True
    """
    for sub in module.modules():
        if isinstance(sub, GeneratorDropout):
            sub.generator = generator
        elif hasattr(type(sub), "dropout_generator"):  # modules calling dropout() themselves (the GIN)
            sub.dropout_generator = generator


@torch.no_grad()
def init_parameters(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """(Re-)initialise every parameter and buffer of ``module`` in place, drawing from ``generator``.

    Same distributions as PyTorch's defaults and this package's modules (random ones from
    ``generator``, constant ones set to their constants), so it also completes a module built
    on the ``meta`` device and materialised with ``to_empty``. The global generator is
    neither read nor advanced, so it is safe in threads.

    Examples
    --------
    >>> a = init_parameters(nn.Linear(3, 2), torch.Generator().manual_seed(0)).weight
    >>> b = init_parameters(nn.Linear(3, 2), torch.Generator().manual_seed(0)).weight
    >>> torch.equal(a, b)
    True
    """
    from .gin import GINConv, GINVirtualNode, _FeatureEmbedding
    from .tree_vq import TreeVQ

    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            nn.init.kaiming_uniform_(sub.weight, a=math.sqrt(5), generator=generator)
            if sub.bias is not None:
                bound = 1.0 / math.sqrt(sub.in_features) if sub.in_features > 0 else 0.0
                nn.init.uniform_(sub.bias, -bound, bound, generator=generator)
        elif isinstance(sub, _FeatureEmbedding):
            for emb in sub.embeddings:
                nn.init.xavier_uniform_(emb.weight, generator=generator)
        elif isinstance(sub, TreeVQ):
            for book in sub.codebooks:
                nn.init.normal_(book, generator=generator)
        elif isinstance(sub, (nn.LayerNorm, nn.modules.batchnorm._NormBase)):
            sub.reset_parameters()  # ones / zeros, and fresh running statistics
        elif isinstance(sub, GINConv):
            nn.init.zeros_(sub.eps)
        elif isinstance(sub, GINVirtualNode):
            nn.init.zeros_(sub.virtualnode_embedding.weight)
    return module
