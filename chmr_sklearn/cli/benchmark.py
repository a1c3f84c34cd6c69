"""``chmr benchmark``: CHMR vs RF, a fingerprint MLP and chemprop on the benchmark datasets.

A thin front end of :func:`chmr_sklearn.benchmark.run_downstream`: identical scaffold splits
for every model, grid points chosen on validation, mean ± std of the test scores over seeds.
"""

from __future__ import annotations

import argparse

from ._common import (
    add_runtime_options,
    add_verbosity_options,
    check_suffix,
)

HELP = "downstream benchmark: CHMR vs RF, FP-MLP and chemprop on scaffold splits"


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr benchmark`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["--dataset", "bbbp", "esol", "--quick"])
    >>> args.dataset, args.seeds, args.quick
    (['bbbp', 'esol'], [0, 1, 2], True)
    """
    parser = sub.add_parser("benchmark", help=HELP, description=HELP + ".")
    parser.add_argument("--dataset", nargs="+", required=True, metavar="NAME",
                        help="datasets: chembl2k broad6k toxcast bbbp bace clintox sider hiv esol freesolv "
                             "lipophilicity (or toxcast_6015)")
    parser.add_argument("--quick", action="store_true", help="tiny grids and epoch budgets: a smoke run, not a result")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], metavar="S",
                        help="model seeds (default: 0 1 2)")
    parser.add_argument("--no-chemprop", action="store_true", help="leave the chemprop column out")
    parser.add_argument("-o", "--output", default=None, metavar="RESULTS.md",
                        help="write the Markdown report here (and its .json / .png siblings)")
    add_runtime_options(parser, device=False, seed=False)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    """Run the benchmark; progress lines go to stdout unless ``--quiet``."""
    import tempfile
    from pathlib import Path

    from ..benchmark import run_downstream

    out = None if args.output is None else check_suffix(args.output, (".md",), what="report file (-o)")
    log = (lambda message: None) if args.quiet else print
    with tempfile.TemporaryDirectory(prefix="chmr_benchmark_") as tmp:
        # Without -o the report still exists, in a temporary folder, and is printed at the end.
        report = out if out is not None else Path(tmp) / "results.md"
        run_downstream(args.dataset, seeds=args.seeds, quick=args.quick, n_jobs=args.n_jobs, out=report, log=log,
                       chemprop=not args.no_chemprop)
        if out is None:
            print(report.read_text())
        else:
            print(f"wrote {out} and {out.with_suffix('.json')}")
    return 0
