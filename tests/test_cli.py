"""The `chmr` command: version, help, and the README's main job on real molecules."""

import pytest

from chmr_sklearn import __version__
from chmr_sklearn.cli import main


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and __version__ in capsys.readouterr().out
    assert main([]) == 0 and "demo" in capsys.readouterr().out


def test_demo_compares_chmr_and_random_forest(capsys):
    assert main(["demo", "--epochs", "3", "--n-jobs", "2"]) == 0
    out = capsys.readouterr().out
    for name in ("CHMRRegressor", "RandomForestRegressor", "CHMRClassifier", "RandomForestClassifier"):
        assert name in out
    assert "1017 real molecules" in out and "tree codes" in out
