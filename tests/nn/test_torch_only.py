"""chmr_sklearn.nn is torch only: its modules import neither sklearn, RDKit nor pandas.

(The nn docstring examples run with every other module's in tests/test_doctests.py.)
"""

import ast
from pathlib import Path

import chmr_sklearn.nn


def test_nn_source_imports_neither_sklearn_rdkit_nor_pandas():
    # Static check: chmr_sklearn/__init__ may import sklearn, the nn files must not.
    files = sorted(Path(chmr_sklearn.nn.__file__).parent.glob("*.py"))
    assert len(files) >= 5
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert not {"sklearn", "rdkit", "pandas"} & set(roots), (path.name, roots)
