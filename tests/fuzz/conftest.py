"""Fuzz tests run torch single-threaded: on a shared, loaded machine two intra-op threads
per process made the many tiny forward passes ~6x slower (measured 36 s vs 5 s)."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
