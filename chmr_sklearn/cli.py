"""Command-line interface: ``chmr demo|...``.

argparse (standard library) keeps the install free of another dependency; every subcommand
turns expected failures (bad files, invalid SMILES) into a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Sequence

from . import __version__

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from .datasets import load_wehi_molecules
    from .featurize import FingerprintFeaturizer

    smiles = load_wehi_molecules()
    if args.n:
        smiles = smiles[: args.n]
    start = time.perf_counter()
    fp = FingerprintFeaturizer(n_jobs=args.n_jobs, verbose=1).fit_transform(smiles)
    seconds = time.perf_counter() - start
    bits = fp.sum(axis=1)
    print(f"Fingerprinted {len(smiles)} real molecules (RDKit's WEHI set) in {seconds:.1f} s "
          f"({len(smiles) / seconds:.0f} mol/s): {fp.shape[1]} columns (Morgan r2 1024 + MACCS 167)")
    print(pd.Series(bits).describe().round(1).to_string())
    print(f"most frequent MACCS key: maccs_{int(np.argmax(fp[:, 1024:].sum(axis=0)))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chmr", description="CHMR molecular representations.")
    parser.add_argument("--version", action="version", version=f"chmr_sklearn {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="run the main job on real molecules shipped with RDKit")
    demo.add_argument("--n", type=int, default=None, help="use only the first N molecules")
    demo.add_argument("--n-jobs", type=int, default=-1)
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"chmr {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
