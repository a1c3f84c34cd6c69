"""The ``chmr`` entry point: version, help, every subcommand registered, docstring examples."""

import doctest
import importlib
import re

import pytest

from chmr_sklearn import __version__
from chmr_sklearn.cli import build_parser, main

SUBCOMMANDS = ["demo", "embed", "fit", "predict", "pretrain", "benchmark"]


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"chmr_sklearn {__version__}"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help_with_its_options(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: chmr {command}")
    assert {"--debug", "--quiet", "--n-jobs"} <= set(re.findall(r"--[\w-]+", out))


def test_usage_errors_exit_2_without_running(capsys):
    assert main(["fit", "train.csv", "--task", "regression", "-o", "m.joblib"]) == 2  # no --target
    assert "--target" in capsys.readouterr().err
    assert main(["no-such-command"]) == 2
    assert main(["fit", "t.csv", "--target", "y", "--task", "regression", "-o", "m.joblib", "--epochs", "0"]) == 2
    assert "must be >= 1" in capsys.readouterr().err


def test_parser_defaults_match_the_agreed_interface():
    parser = build_parser()
    embed = parser.parse_args(["embed", "in.csv", "-o", "out.parquet"])
    assert (embed.smiles_col, embed.output, embed.chunk_size, embed.no_resume, embed.codes) == (
        "smiles", "concat", 10_000, False, False)
    assert (embed.on_invalid, embed.device, embed.seed, embed.model) == ("raise", "auto", 0, None)
    pre = parser.parse_args(["pretrain", "--molecules", "m.csv", "--profiles", "cp=a.csv", "ge=b.csv", "-o", "ck"])
    assert pre.profiles == [("cp", "a.csv"), ("ge", "b.csv")] and pre.epochs == 20
    bench = parser.parse_args(["benchmark", "--dataset", "bbbp", "esol"])
    assert bench.dataset == ["bbbp", "esol"] and bench.seeds == [0, 1, 2] and not bench.quick


@pytest.mark.parametrize("module", ["__init__", "_common", *SUBCOMMANDS])
def test_docstring_examples(module):
    name = "chmr_sklearn.cli" + ("" if module == "__init__" else f".{module}")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
