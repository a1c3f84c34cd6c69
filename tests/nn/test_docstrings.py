"""Run the Examples sections of the nn docstrings as doctests."""

import doctest
import importlib

import pytest

MODULES = ["gin", "blocks", "losses", "tree_vq", "chmr"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"chmr_sklearn.nn.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_nn_source_imports_neither_sklearn_rdkit_nor_pandas():
    # Static check: chmr_sklearn/__init__ may import sklearn, the nn files must not.
    import ast
    from pathlib import Path

    import chmr_sklearn.nn

    for path in Path(chmr_sklearn.nn.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert not {"sklearn", "rdkit", "pandas"} & set(roots), (path.name, roots)
