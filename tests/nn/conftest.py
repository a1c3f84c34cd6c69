"""Fixtures of the nn tests: small hand-built molecular graphs."""

import pytest

from ._graphs import collate, small_molecules


@pytest.fixture
def molecules() -> list[dict]:
    return small_molecules()


@pytest.fixture
def batch(molecules) -> dict:
    return collate(molecules)
