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
    """CHMR vs a random forest on the same scaffold split of real molecules (offline)."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from .datasets import load_chembl2321810
    from .estimators import CHMRClassifier, CHMRRegressor, CHMRTransformer
    from .featurize import FingerprintFeaturizer
    from .model_selection import mean_mae, mean_roc_auc, scaffold_split

    X, y = load_chembl2321810(return_X_y=True)
    X, y = X.to_numpy(dtype=object), y.to_numpy()
    if args.n:  # an evenly spaced subset: the file is ordered by compound series
        keep = np.linspace(0, len(X) - 1, num=min(args.n, len(X))).astype(int)
        X, y = X[keep], y[keep]
    train, valid, test = scaffold_split(X, sizes=(0.8, 0.1, 0.1), method="ogb")
    print(f"{len(X)} real molecules with activities (RDKit's CHEMBL2321810 set); "
          f"scaffold split {len(train)}/{len(valid)}/{len(test)}.")

    tic = time.perf_counter()
    transformer = CHMRTransformer(n_jobs=args.n_jobs, device=args.device, verbose=1).fit(X)
    emb = transformer.transform(X)  # embed once, reuse for both heads
    embed_s = time.perf_counter() - tic
    fp = FingerprintFeaturizer(n_jobs=args.n_jobs).fit_transform(X)
    threshold = float(np.median(y[train]))
    active = (y > threshold).astype(float)  # classification task: more active than the median
    head = dict(transformer="passthrough", random_state=args.seed, device=args.device, max_epochs=args.epochs)
    rows = []

    def run(name, model, features, target, metric):
        start = time.perf_counter()
        if name.startswith("CHMR"):
            model.fit(features[train], target[train], validation_data=(features[valid], target[valid]))
        else:
            model.fit(features[train], target[train])
        out = model.predict_proba(features[test])[:, 1] if metric is mean_roc_auc else model.predict(features[test])
        rows.append((name, metric.__name__, metric(target[test], out), time.perf_counter() - start))

    run("CHMRRegressor", CHMRRegressor(**head), emb, y, mean_mae)
    run("RandomForestRegressor", RandomForestRegressor(500, n_jobs=args.n_jobs, random_state=args.seed), fp, y,
        mean_mae)
    print(f"classification task: activity > {threshold:.2f} (training median)")
    run("CHMRClassifier", CHMRClassifier(**head), emb, active, mean_roc_auc)
    run("RandomForestClassifier", RandomForestClassifier(500, n_jobs=args.n_jobs, random_state=args.seed), fp,
        active, mean_roc_auc)
    print(f"\nCHMR embedding (shipped default model, {emb.shape[1]} columns): {embed_s:.1f} s "
          f"({len(X) / embed_s:.0f} mol/s)")
    print(f"{'model':<24}{'test metric':<16}{'value':>8}{'fit s':>8}")
    for name, metric, value, seconds in rows:
        print(f"{name:<24}{metric:<16}{value:>8.3f}{seconds:>8.1f}")
    print("(mean_mae: lower is better; mean_roc_auc: higher is better; RF uses the same 1191 fingerprint bits)")
    codes = transformer.tree_codes(X[test])
    leaf, count = np.unique(codes[:, 2], return_counts=True)
    print(f"tree codes of the test molecules at depth 3: {len(leaf)} groups, largest holds {count.max()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chmr", description="CHMR molecular representations.")
    parser.add_argument("--version", action="version", version=f"chmr_sklearn {__version__}")
    sub = parser.add_subparsers(dest="command")
    demo = sub.add_parser("demo", help="CHMR vs random forest on real molecules shipped with RDKit")
    demo.add_argument("--n", type=int, default=None, help="use an evenly spaced subset of N molecules")
    demo.add_argument("--n-jobs", type=int, default=-1)
    demo.add_argument("--epochs", type=int, default=50, help="maximum epochs of the heads")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--device", default="auto")
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
