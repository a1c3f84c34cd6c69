"""Forked worker processes (chmr_sklearn._workers): results, errors, threads."""

import os
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import joblib
import pytest
import torch

from chmr_sklearn._workers import can_fork, forked_map

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")


def test_results_come_back_in_order_from_other_processes_and_may_close_over_anything():
    lock = threading.Lock()  # not picklable: the work reaches the workers by inheritance
    data = list(range(100))

    def work(a, b):
        with lock:
            return os.getpid(), sum(data[a:b])

    out = forked_map(work, [(0, 10), (10, 50), (50, 100)], workers=2)
    assert [s for _, s in out] == [45, sum(range(10, 50)), sum(range(50, 100))]
    assert os.getpid() not in {pid for pid, _ in out}


def test_a_worker_computes_on_one_torch_thread_after_the_parent_used_several():
    # The parent's OpenMP threads do not exist in a forked child: torch must not wait on them
    # (the test would hang, not fail, if it did; pytest's run would time out).
    a = torch.randn(400, 400, generator=torch.Generator().manual_seed(0))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = a @ a  # the parent's thread pool is up
        out = forked_map(lambda: (torch.get_num_threads(), a @ a), [()] * 2, workers=2)
    finally:
        torch.set_num_threads(before)
    for threads, product in out:
        assert threads == 1
        torch.testing.assert_close(product, expected)


def test_an_exception_in_a_task_is_raised_here():
    def work(i):
        if i == 3:
            raise ValueError(f"bad task {i}")
        return i

    with pytest.raises(ValueError, match="bad task 3"):
        forked_map(work, [(i,) for i in range(5)], workers=2)


def test_a_worker_that_dies_breaks_the_call_instead_of_hanging():
    with pytest.raises(BrokenProcessPool):
        forked_map(lambda: os._exit(3), [()], workers=1)


def test_forking_follows_joblib_s_backend_and_never_happens_in_a_daemonic_process():
    import multiprocessing

    assert can_fork()
    with multiprocessing.get_context("fork").Pool(1) as pool:  # its workers are daemonic
        assert pool.apply(can_fork) is False
    with joblib.parallel_config(backend="threading"):
        assert not can_fork()  # the user chose threads: the engine goes through joblib
    with joblib.parallel_config(backend="loky"):
        assert can_fork()


def test_a_fork_waits_for_other_threads_computing_in_this_process():
    from chmr_sklearn._workers import GATE

    events = []
    inside = threading.Event()

    def compute_here():
        with GATE.computing():
            inside.set()
            time.sleep(0.3)
            events.append("computed")

    thread = threading.Thread(target=compute_here)
    thread.start()
    inside.wait()
    forked_map(lambda: None, [()], workers=1)
    events.append("forked")
    thread.join()
    assert events == ["computed", "forked"]


def test_a_forked_worker_starts_with_an_open_gate():
    # The fork happens inside GATE.forking(): the child's copy would stay closed for good, and
    # work entering GATE.computing() there would wait forever (the test would hang, not fail).
    from chmr_sklearn._workers import GATE

    def work():
        with GATE.computing():
            return "computed"

    assert forked_map(work, [()] * 2, workers=2) == ["computed", "computed"]
