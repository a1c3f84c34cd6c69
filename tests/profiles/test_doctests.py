"""The Examples sections of chmr_sklearn.profiles run and give what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

# importlib, not attribute access: ``chmr_sklearn.profiles.propagate`` is the function that
# the package re-exports, which shadows the submodule of the same name.
MODULES = ["table", "propagate", "context_graph", "_topk"]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples(name):
    module = importlib.import_module(f"chmr_sklearn.profiles.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 or name == "_topk"
    assert result.failed == 0
