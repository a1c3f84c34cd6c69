"""Torch runtime helpers shared by pretraining and the estimators: device choice, determinism."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

import torch

from ._signals import reinstate_sigint_handler

__all__ = ["resolve_device", "deterministic", "reinstate_sigint_handler"]

_DET_LOCK = threading.Lock()
_DET_STATE: dict = {"depth": 0, "saved": None}


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"Unknown device {device!r}: {err}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but CUDA is not available; use device='auto' or 'cpu'.")
    return dev


@contextmanager
def deterministic() -> Iterator[None]:
    """Run torch ops with deterministic implementations, restoring the caller's setting.

    Multi-threaded CPU ``index_add_`` (the GNN's scatter) accumulates in a varying order, so
    two identical runs drift in the last bits; this makes same-seed runs bit-identical.
    ``warn_only`` keeps CUDA ops without a deterministic kernel usable.

    Examples
    --------
    >>> before = torch.are_deterministic_algorithms_enabled()
    >>> with deterministic():
    ...     torch.are_deterministic_algorithms_enabled()
    True
    >>> torch.are_deterministic_algorithms_enabled() == before
    True
    """
    import torch.utils.deterministic as det

    # The switch is process-wide: with fits in several threads, only the first to enter saves
    # the caller's setting and only the last to leave restores it, so no thread's exit turns
    # determinism off under another one that is still training.
    with _DET_LOCK:
        if _DET_STATE["depth"] == 0:
            _DET_STATE["saved"] = (torch.are_deterministic_algorithms_enabled(),
                                   torch.is_deterministic_algorithms_warn_only_enabled(),
                                   det.fill_uninitialized_memory)
            torch.use_deterministic_algorithms(True, warn_only=True)
            # Filling every new tensor with NaN is a debugging aid of deterministic mode, not needed
            # for reproducibility. Its cost measured within noise on an idle machine (x0.93-1.04,
            # benchmarks/results/embed.md), so this only skips needless work.
            det.fill_uninitialized_memory = False
        _DET_STATE["depth"] += 1
    try:
        yield
    finally:
        with _DET_LOCK:
            _DET_STATE["depth"] -= 1
            if _DET_STATE["depth"] == 0:
                enabled, warn_only, fill = _DET_STATE["saved"]
                torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
                det.fill_uninitialized_memory = fill
