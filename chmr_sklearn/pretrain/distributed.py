"""Data-parallel pretraining on ``torch.distributed``: process group, sharding, global-batch collectives.

A ``torchrun`` launch (``WORLD_SIZE > 1`` in the environment) makes :class:`Pretrainer` train
with :class:`~torch.nn.parallel.DistributedDataParallel`: every global batch (the same
molecules, in the same order, as a single-process run) is cut into one contiguous shard per
rank, each rank encodes its shard, and the per-molecule latents are gathered so that every
rank computes the losses over the **whole** global batch. That is what makes the 2-process
run equal the 1-process run: InfoNCE's negatives, VICReg's variance/covariance, Tree-VQ's
nearest-sample statistics and the random walks of CPR all see the global batch, and the
GIN's BatchNorm layers use global batch statistics (:class:`GlobalBatchNorm1d`).

Gradient scaling. Every rank computes the same global loss ``L``, so the sum of the per-rank
losses is ``W * L`` (``W`` ranks). The backward of :func:`gather_rows` and of the statistics
all-reduce sum the gradients that all ranks send to a shard (the exact adjoint of the
forward collective), so each rank's gradient is its share of ``d(W L)/dθ``; DDP then
*averages* over ranks, which divides by ``W``: the update is exactly ``dL/dθ``, as in the
single-process run. No manual loss scaling is needed, and none must be added.

Where the runs may differ: floating-point summation order (sums over ranks, all-reduced
gradients) and the GIN's dropout masks, which each rank draws for its own shard from a
generator seeded by ``(seed, epoch, batch, rank)``. With ``gin_dropout=0`` the runs agree
to float32 round-off; with dropout they agree in distribution. The computations after the
gather (decoders' dropout included) draw identical random numbers on every rank.

Collectives for batch statistics run on a dedicated process group, so they never interleave
with DDP's own gradient all-reduce on the default group.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from .._runtime import resolve_device

__all__ = [
    "DistContext",
    "GlobalBatchNorm1d",
    "all_reduce_sum",
    "convert_batchnorm",
    "data_parallel",
    "gather_rows",
    "is_main_process",
    "launched_by_torchrun",
    "revert_batchnorm",
    "setup",
    "shard_seed",
    "teardown",
]


def launched_by_torchrun() -> bool:
    """Whether this process is one of several started by ``torchrun`` (``WORLD_SIZE > 1``).

    Examples
    --------
    >>> import os
    >>> launched_by_torchrun() == (int(os.environ.get("WORLD_SIZE", "1")) > 1)
    True
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """True unless this is a non-zero rank of a distributed run (initialised or launched).

    Use it to let only rank 0 print, log or write files.

    Examples
    --------
    >>> import os
    >>> is_main_process() == (int(os.environ.get("RANK", "0")) == 0)
    True
    """
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


@dataclass
class DistContext:
    """Where this process stands in a data-parallel run; the default is a single process.

    Attributes
    ----------
    rank, world_size : int
    group : ProcessGroup or None
        Dedicated group for the batch-statistics collectives (None in a single process).

    Examples
    --------
    >>> ctx = DistContext()
    >>> ctx.enabled, ctx.is_main, ctx.shard_sizes(5)
    (False, True, [5])
    """

    rank: int = 0
    world_size: int = 1
    group: Any = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard_sizes(self, n: int) -> list[int]:
        """Rows of a global batch of ``n`` that each rank takes (contiguous, sizes differ by <= 1)."""
        return [len(part) for part in np.array_split(np.arange(n), self.world_size)]

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """This rank's contiguous block of the global batch ``idx``."""
        return np.array_split(idx, self.world_size)[self.rank]


# The statistics group of the current default group: created once, reused by every fit.
_STATS_GROUP: dict[int, Any] = {}


def setup(device: str | torch.device = "auto") -> tuple[DistContext, torch.device]:
    """Join (or start) the process group of a ``torchrun`` launch and pick this rank's device.

    Uses an already initialised default group as is; otherwise initialises one from the
    ``torchrun`` environment (``env://``): NCCL when the device is CUDA, gloo on CPU. On CUDA
    each rank takes the GPU ``LOCAL_RANK`` (unless ``device`` names one). The group then lives
    until the process exits (or :func:`teardown`), so later fits in the same process reuse it
    instead of tearing down and re-forming the group (re-forming it can deadlock).

    Returns
    -------
    ctx : DistContext
        Single-process context when not launched by ``torchrun`` and no group exists.
    device : torch.device

    Examples
    --------
    >>> ctx, device = setup("cpu")  # a plain (non-torchrun) process
    >>> ctx.world_size, device.type
    (1, 'cpu')
    """
    device = resolve_device(device)
    initialized = dist.is_available() and dist.is_initialized()
    if not initialized and not launched_by_torchrun():
        return DistContext(), device
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed support.")
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not initialized:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(teardown)
    world = dist.get_world_size()
    if world == 1:
        return DistContext(), device
    key = id(dist.group.WORLD)
    if key not in _STATS_GROUP:
        _STATS_GROUP[key] = dist.new_group(backend=dist.get_backend())
    return DistContext(rank=dist.get_rank(), world_size=world, group=_STATS_GROUP[key]), device


def teardown() -> None:
    """Destroy the process groups (all of them): what :func:`setup` registers for process exit.

    Examples
    --------
    >>> teardown()  # nothing to do in a single process
    """
    _STATS_GROUP.clear()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# ---- differentiable collectives -------------------------------------------------------------
class _AllReduceSum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: Tensor, group) -> Tensor:
        ctx.group = group
        out = tensor.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        # Every rank used the sum: the input's gradient is the sum of all ranks' gradients.
        grad = grad.clone()
        dist.all_reduce(grad, group=ctx.group)
        return grad, None


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx, tensor: Tensor, group, counts: tuple, rank: int) -> Tensor:
        ctx.group, ctx.counts, ctx.rank = group, counts, rank
        width = max(counts)
        padded = tensor.new_zeros((width,) + tuple(tensor.shape[1:]))
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(parts, padded.contiguous(), group=group)
        return torch.cat([part[:n] for part, n in zip(parts, counts)])

    @staticmethod
    def backward(ctx, grad: Tensor):
        # Adjoint of all-gather: sum the gradients every rank holds for this rank's rows.
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, group=ctx.group)
        start = sum(ctx.counts[: ctx.rank])
        return grad[start : start + ctx.counts[ctx.rank]], None, None, None


def all_reduce_sum(tensor: Tensor, ctx: DistContext) -> Tensor:
    """Differentiable sum of ``tensor`` over ranks (the tensor itself in a single process).

    Examples
    --------
    >>> all_reduce_sum(torch.ones(2), DistContext())
    tensor([1., 1.])
    """
    return _AllReduceSum.apply(tensor, ctx.group) if ctx.enabled else tensor


def gather_rows(tensor: Tensor, counts: Sequence[int], ctx: DistContext) -> Tensor:
    """Differentiable concatenation of every rank's rows, in rank order.

    Parameters
    ----------
    tensor : Tensor of shape (counts[rank], ...)
    counts : sequence of int
        Rows held by each rank (ranks may hold different numbers, zero included).
    ctx : DistContext

    Examples
    --------
    >>> gather_rows(torch.zeros(3, 2), [3], DistContext()).shape
    torch.Size([3, 2])
    """
    if not ctx.enabled:
        return tensor
    counts = tuple(int(c) for c in counts)
    if tensor.shape[0] != counts[ctx.rank]:
        raise ValueError(f"rank {ctx.rank} holds {tensor.shape[0]} rows, counts say {counts[ctx.rank]}")
    return _GatherRows.apply(tensor, ctx.group, counts, ctx.rank)


# ---- BatchNorm over the global batch --------------------------------------------------------
class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d whose training statistics cover the rows of every rank.

    ``torch.nn.SyncBatchNorm`` does the same on GPUs only; this one works with gloo on CPU
    as well as NCCL. Mean and (biased) variance are two all-reduced passes over the global
    rows, the running variance uses the unbiased global estimate, exactly as BatchNorm1d
    does on the concatenated batch. Outside training, or without a group, it is BatchNorm1d.

    Examples
    --------
    >>> bn = GlobalBatchNorm1d(3)
    >>> bn(torch.randn(4, 3)).shape  # no process group: plain BatchNorm1d
    torch.Size([4, 3])
    """

    ctx: DistContext = DistContext()

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and self.ctx.enabled):
            return super().forward(x)
        local = torch.cat([x.sum(dim=0), x.new_tensor([x.shape[0]])])
        total = all_reduce_sum(local, self.ctx)
        n = total[-1].detach()
        mean = total[:-1] / n
        centered = x - mean
        var = all_reduce_sum((centered * centered).sum(dim=0), self.ctx) / n
        out = centered * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(var.detach() * n / (n - 1).clamp(min=1), alpha=momentum)
        return out


def _swap_batchnorm(module: nn.Module, make: Callable[[nn.BatchNorm1d], nn.BatchNorm1d], kind: type) -> None:
    for name, child in module.named_children():
        if type(child) is kind:
            new = make(child)
            # Share the very parameter and buffer objects: the optimizer keeps pointing at them.
            new.weight, new.bias = child.weight, child.bias
            new.running_mean, new.running_var = child.running_mean, child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(module, name, new)
        else:
            _swap_batchnorm(child, make, kind)


def convert_batchnorm(module: nn.Module, ctx: DistContext) -> nn.Module:
    """Replace every plain ``nn.BatchNorm1d`` of ``module`` by a :class:`GlobalBatchNorm1d` (in place).

    The state dict keys and tensors are unchanged; undo with :func:`revert_batchnorm`.

    Examples
    --------
    >>> m = convert_batchnorm(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)), DistContext())
    >>> type(m[1]).__name__
    'GlobalBatchNorm1d'
    """
    def make(bn: nn.BatchNorm1d) -> nn.BatchNorm1d:
        new = GlobalBatchNorm1d(bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats)
        new.ctx = ctx
        return new

    _swap_batchnorm(module, make, nn.BatchNorm1d)
    return module


def revert_batchnorm(module: nn.Module) -> nn.Module:
    """Turn the :class:`GlobalBatchNorm1d` layers of ``module`` back into ``nn.BatchNorm1d``.

    Examples
    --------
    >>> m = revert_batchnorm(convert_batchnorm(nn.Sequential(nn.BatchNorm1d(2)), DistContext()))
    >>> type(m[0]).__name__
    'BatchNorm1d'
    """
    _swap_batchnorm(module, lambda bn: nn.BatchNorm1d(bn.num_features, bn.eps, bn.momentum, bn.affine,
                                                      bn.track_running_stats), GlobalBatchNorm1d)
    return module


# ---- the DDP wrapper ------------------------------------------------------------------------
class _Step(nn.Module):
    """A module whose forward is one training step's loss computation (what DDP wraps).

    DDP synchronises gradients only for computations run through its ``forward``; the
    trainer's step calls several methods of the model, so they are bundled here.
    """

    def __init__(self, model: nn.Module, step: Callable[..., Any]):
        super().__init__()
        self.model = model
        self.step = step

    def forward(self, *args: Any) -> Any:
        return self.step(*args)


def data_parallel(model: nn.Module, step: Callable[..., Any], ctx: DistContext, device: torch.device) -> nn.Module:
    """Wrap ``step`` (a function of a training batch that uses ``model``) for this context.

    Single process: a plain module calling ``step``. Distributed: that module inside
    DistributedDataParallel, with ``find_unused_parameters`` because a batch may leave a
    decoder unused (its gradient then stays None, as in a single process).

    Examples
    --------
    >>> m = nn.Linear(2, 1)
    >>> run = data_parallel(m, lambda x: m(x).sum(), DistContext(), torch.device("cpu"))
    >>> run(torch.ones(3, 2)).shape
    torch.Size([])
    """
    wrapped = _Step(model, step)
    if not ctx.enabled:
        return wrapped
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(wrapped, device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=True)


def shard_seed(*keys: int) -> int:
    """A 63-bit seed derived from integers (e.g. seed, epoch, batch, rank).

    Examples
    --------
    >>> shard_seed(0, 1, 2, 0) == shard_seed(0, 1, 2, 0) != shard_seed(0, 1, 2, 1)
    True
    """
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))

