"""The ``chmr`` command line: from a CSV of SMILES to embeddings, models and predictions.

Subcommands (one module each): ``demo`` (the README's main job), ``embed``, ``fit``,
``predict``, ``pretrain`` and ``benchmark``. Run them as ``chmr <cmd>`` (console script) or
``python -m chmr_sklearn <cmd>``; ``chmr <cmd> --help`` lists the options.

The parser is argparse, from the standard library, so the command needs no dependency beyond
the package's own. Heavy imports (torch, RDKit) happen inside each subcommand, which keeps
``chmr --help`` instant. Every expected failure (missing or unreadable file, missing column,
invalid SMILES, empty targets, a file that is not a chmr model) prints one line
``chmr <cmd>: error: ...`` on stderr and exits with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from . import benchmark, demo, embed, fit, predict, pretrain
from ._common import run_command

__all__ = ["build_parser", "main"]

SUBCOMMANDS = (demo, embed, fit, predict, pretrain, benchmark)


def build_parser() -> argparse.ArgumentParser:
    """The ``chmr`` argument parser with every subcommand.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["fit", "train.csv", "--target", "pIC50",
    ...                                   "--task", "regression", "-o", "model.joblib"])
    >>> args.command, args.target, args.epochs, args.on_invalid
    ('fit', ['pIC50'], 100, 'raise')
    """
    parser = argparse.ArgumentParser(
        prog="chmr", description="CHMR molecular representations: embed molecules, train and apply models.",
        epilog="Run 'chmr <command> --help' for the options of a command.")
    parser.add_argument("--version", action="version", version=f"chmr_sklearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``chmr`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``chmr``; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit code: 0 on success, 2 for a usage or input error (one line on stderr),
        1 for an unexpected failure, 130 when interrupted.

    Examples
    --------
    >>> main(["--version"])  # doctest: +ELLIPSIS
    chmr_sklearn ...
    0
    >>> main(["predict", "no_such_model.joblib", "in.csv", "-o", "out.csv"])
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, usage errors: argparse has printed them
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help()
        return 0
    return run_command(args.func, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
