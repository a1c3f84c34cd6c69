"""Worker processes forked from this process where the platform allows: featurization and embedding.

Large featurizations (:func:`chmr_sklearn.featurize._chunks.map_chunks`, e.g. a pretraining
corpus) and large transforms (:mod:`chmr_sklearn.estimators._engine`) run in ``n_jobs``
workers. On Linux they are forked for each call from this process, which holds RDKit (and
torch and the encoder) already: a worker is ready in milliseconds and reads the molecules and
the encoder from the memory it inherited, so only slice bounds travel to it and results travel
back. Elsewhere (macOS and Windows, where forking a process that runs threads is unsafe or
impossible), or under a joblib backend chosen with ``joblib.parallel_config(backend=...)``, the
work goes through joblib instead, whose processes import their modules and unpickle the work
first: seconds on a process's first large call.

A forked worker computes on one torch thread, set before anything else, as PyTorch's own
``DataLoader`` workers do: the OpenMP threads of the parent do not exist in the child, and one
thread keeps torch from waiting on them. A child also inherits every lock as it was at the
fork, so a thread of this process never forks while another one featurizes or encodes here
(:data:`GATE`): a lock held inside RDKit or torch at that moment would never be released in
the child. This module imports no torch: featurization-only processes never load it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = ["GATE", "ForkGate", "can_fork", "forked_imap", "forked_map"]


class ForkGate:
    """Keeps forks and in-process computations of several threads apart.

    Work in this process runs inside :meth:`computing` (any number of threads at once); a
    fork happens inside :meth:`forking`, which waits until no thread is computing and holds
    new computations back for the few milliseconds the fork takes. The forked workers'
    computation itself runs outside the gate.

    Examples
    --------
    >>> gate = ForkGate()
    >>> with gate.computing():
    ...     pass
    >>> with gate.forking():
    ...     pass
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Open and empty: what a forked child needs (it inherits the gate mid-fork, ``forking``)."""
        self._cond = threading.Condition()
        self._computing = 0
        self._forking = False

    @contextmanager
    def computing(self) -> Iterator[None]:
        """Featurizing or encoding in this process."""
        with self._cond:
            self._cond.wait_for(lambda: not self._forking)
            self._computing += 1
        try:
            yield
        finally:
            with self._cond:
                self._computing -= 1
                self._cond.notify_all()

    @contextmanager
    def forking(self) -> Iterator[None]:
        """Forking workers (never inside :meth:`computing` of the same thread: it would wait forever)."""
        with self._cond:
            self._cond.wait_for(lambda: not self._forking and self._computing == 0)
            self._forking = True
        try:
            yield
        finally:
            with self._cond:
                self._forking = False
                self._cond.notify_all()


#: The gate of this process's featurization and embedding work.
GATE = ForkGate()
# A child forked inside ``GATE.forking()`` (or while another thread held its lock) would find it
# closed for good: every forked child starts with an open one, whoever forked it.
if hasattr(os, "register_at_fork"):  # POSIX only; elsewhere nothing forks
    os.register_at_fork(after_in_child=GATE.reset)

# The function a forked worker runs, installed by the pool's initializer (inherited, never pickled).
_WORK: Callable[..., Any] | None = None


def can_fork() -> bool:
    """Whether large featurizations and transforms fork their workers from this process.

    True on Linux under joblib's default process backend (loky, also when chosen explicitly),
    False elsewhere, under any other joblib backend (threads, dask, ...), which then runs
    the workers as the user configured it, and inside a daemonic process (a
    ``multiprocessing.Pool`` worker), which may not have children.

    Examples
    --------
    >>> import sys
    >>> can_fork() == (sys.platform == "linux")
    True
    """
    if sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if multiprocessing.current_process().daemon:
        return False
    from joblib.parallel import get_active_backend

    return type(get_active_backend()[0]).__name__ == "LokyBackend"


def forked_map(work: Callable[..., Any], args: Sequence[tuple], workers: int) -> list:
    """``[work(*a) for a in args]``, computed in ``workers`` processes forked from this one.

    Parameters
    ----------
    work : callable
        Run in the workers; it reaches them by inheritance, so it may close over anything
        (an encoder, a list of molecules) without being picklable. Its arguments and return
        values are pickled.
    args : sequence of tuple
        One task per tuple, in order; results come back in the same order.
    workers : int
        Processes to fork (at most one per task).

    Returns
    -------
    list
        The results, in the order of ``args``. An exception raised by a task is raised here;
        a worker that dies (e.g. a crash inside a C extension) raises
        ``concurrent.futures.process.BrokenProcessPool``.

    Examples
    --------
    >>> forked_map(lambda a, b: a + b, [(1, 2), (3, 4)], workers=2)
    [3, 7]
    """
    return list(forked_imap(work, args, workers))


def forked_imap(work: Callable[..., Any], args: Sequence[tuple], workers: int) -> Iterator:
    """:func:`forked_map` as a generator: each result as soon as it and those before it are done.

    For progress bars. The workers are forked at the first ``next`` and shut down when the
    generator is exhausted or closed.

    Examples
    --------
    >>> list(forked_imap(lambda a: a * a, [(2,), (3,)], workers=2))
    [4, 9]
    """
    pool = ProcessPoolExecutor(max(1, min(workers, len(args))), mp_context=multiprocessing.get_context("fork"),
                               initializer=_install, initargs=(work,))
    try:
        with GATE.forking(), warnings.catch_warnings():
            # Python >= 3.12 warns on forking a process with threads (torch's idle OpenMP
            # pool here): the child runs on one thread and never uses the parent's.
            warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning)
            futures = [pool.submit(_run, a) for a in args]  # the first submit forks the workers
        for f in futures:
            yield f.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _install(work: Callable[..., Any]) -> None:
    global _WORK
    torch = sys.modules.get("torch")  # only where the parent had loaded it
    if torch is not None:
        torch.set_num_threads(1)  # one of ``workers`` processes sharing the cores
    _WORK = work


def _run(args: tuple) -> Any:
    return _WORK(*args)
