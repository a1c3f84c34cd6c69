"""Every public class and function documents an Examples section, and every doctest passes.

The public API is what the package and its sub-packages export in ``__all__`` (plus the
streaming and benchmark modules and the CLI). The doctests of every module of the package are
run with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``, the flags the docstrings are written for.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import io
import os
import pkgutil
import re

import pytest

import chmr_sklearn

PUBLIC_MODULES = [
    "chmr_sklearn",
    "chmr_sklearn.estimators",
    "chmr_sklearn.featurize",
    "chmr_sklearn.profiles",
    "chmr_sklearn.nn",
    "chmr_sklearn.pretrain",
    "chmr_sklearn.datasets",
    "chmr_sklearn.model_selection",
    "chmr_sklearn.cli",
    "chmr_sklearn._inputs",  # InvalidMoleculeError and the input policy every estimator shares
    "chmr_sklearn._runtime",
    "chmr_sklearn.streaming",
    "chmr_sklearn.benchmark",
]
# Modules whose examples run a whole (tiny) benchmark end to end: minutes on a loaded machine.
SLOW_DOCTESTS = {"chmr_sklearn.benchmark._run"}

_EXAMPLES = re.compile(r"^Examples\n-{8,}\n(?:.*\n)*?\s*>>> ", re.MULTILINE)


def _existing(names):
    # streaming / benchmark are optional parts of the API until they exist.
    return [n for n in names if importlib.util.find_spec(n) is not None]


def _public_objects():
    for modname in _existing(PUBLIC_MODULES):
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield pytest.param(obj, id=f"{modname}.{name}")


def _all_modules():
    names = ["chmr_sklearn"] + [
        m.name for m in pkgutil.walk_packages(chmr_sklearn.__path__, "chmr_sklearn.")
        if not m.name.endswith("__main__")  # running it would start the CLI
    ]
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_DOCTESTS else n for n in names]


@pytest.mark.parametrize("obj", list(_public_objects()))
def test_public_object_has_examples(obj):
    doc = inspect.getdoc(obj) or ""
    assert _EXAMPLES.search(doc + "\n"), f"{obj.__module__}.{obj.__qualname__} has no runnable Examples section"


def test_public_api_is_walked():
    # Guards the walk above: the three estimators and the loaders must be among the objects.
    ids = {p.id for p in _public_objects()}
    assert {"chmr_sklearn.CHMRTransformer", "chmr_sklearn.CHMRClassifier",
            "chmr_sklearn.datasets.load_chembl2k", "chmr_sklearn.cli.main"} <= ids
    assert len(ids) > 80


@pytest.mark.parametrize("modname", _all_modules())
def test_module_doctests(modname, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # examples that write files (CLI, streaming) write here
    module = importlib.import_module(modname)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in finder.find(module, modname):
        if test.examples:
            runner.run(test, out=report.write)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest example(s) failed in {modname}:\n{report.getvalue()}"


def test_doctests_find_the_examples_of_decorated_functions():
    # deterministic() is wrapped by contextlib.contextmanager; its example must still run.
    tests = doctest.DocTestFinder().find(importlib.import_module("chmr_sklearn._runtime"))
    assert any(t.name.endswith("deterministic") and t.examples for t in tests)
    assert os.environ.get("CHMR_DATA_HOME")  # conftest points the loaders' examples at the data
