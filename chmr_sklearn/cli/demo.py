"""``chmr demo``: the README's main job, CHMR vs a random forest on real molecules, offline.

The 1,017 molecules with activities that ship with RDKit (CHEMBL2321810) are split by scaffold
(scaffold groups in a random order seeded by ``--seed``);
the shipped pretrained model embeds them once and ``CHMRRegressor`` / ``CHMRClassifier`` at their
default settings (each says, head by head, whether ``rf_residual="auto"`` kept the forest) and a random forest
on the same fingerprint bits are trained for a regression and a classification task.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from ._common import add_runtime_options, add_verbosity_options, positive_int, verbosity

HELP = "CHMR vs random forest on real molecules shipped with RDKit (offline)"


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr demo`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["--n", "100"])
    >>> args.n, args.epochs, args.seed
    (100, 50, 0)
    """
    parser = sub.add_parser("demo", help=HELP, description=HELP + ".")
    parser.add_argument("--n", type=positive_int, default=None, metavar="N",
                        help="use an evenly spaced subset of N molecules (default: all 1017)")
    parser.add_argument("--epochs", type=positive_int, default=50, metavar="E",
                        help="maximum epochs of the heads (default: %(default)s)")
    add_runtime_options(parser)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def _run(args: argparse.Namespace) -> int:
    """CHMR vs a random forest on the same scaffold split of real molecules (offline)."""
    import numpy as np

    from ..datasets import load_chembl2321810
    from ..estimators import CHMRTransformer
    from ..model_selection import scaffold_split

    X, y = load_chembl2321810(return_X_y=True)
    X, y = X.to_numpy(dtype=object), y.to_numpy()
    if args.n:  # an evenly spaced subset: the file is ordered by compound series
        keep = np.linspace(0, len(X) - 1, num=min(args.n, len(X))).astype(int)
        X, y = X[keep], y[keep]
    # Scaffold groups dealt in a seeded random order (InfoAlign's protocol). OGB's order puts the
    # rarest scaffolds last, and here they are all weakly active: every subset of up to 250
    # molecules had a one-class test split, so the classifier's ROC-AUC was undefined.
    train, valid, test = scaffold_split(X, sizes=(0.8, 0.1, 0.1), method="random_groups", random_state=args.seed)
    print(f"{len(X)} real molecules with activities (RDKit's CHEMBL2321810 set); "
          f"scaffold split {len(train)}/{len(valid)}/{len(test)}.")

    with tempfile.TemporaryDirectory() as cache:
        # Embedded once into a disk cache; the heads then take SMILES as a user's would (their
        # forests see the fingerprint bits) and read the embedding back from the cache.
        tic = time.perf_counter()
        transformer = CHMRTransformer(n_jobs=args.n_jobs, device=args.device, verbose=verbosity(args),
                                      cache_dir=cache).fit(X)
        n_columns = transformer.transform(X).shape[1]
        embed_s = time.perf_counter() - tic
        rows = _compare(args, transformer, X, y, (train, valid, test))
        codes = transformer.tree_codes(X[test])
    print(f"\nCHMR embedding (shipped default model, {n_columns} columns): {embed_s:.1f} s "
          f"({len(X) / embed_s:.0f} mol/s)")
    width = max(len(name) for name, *_ in rows) + 2
    print(f"{'model':<{width}}{'test metric':<16}{'value':>8}{'fit s':>8}")
    for name, metric, value, seconds in rows:
        print(f"{name:<{width}}{metric:<16}{value:>8.3f}{seconds:>8.1f}")
    print("(mean_mae: lower is better; mean_roc_auc: higher is better; RF uses the same 1191 fingerprint bits)")
    if any(np.isnan(value) for _, _, value, _ in rows):
        print("(nan: the test split of this subset holds a single class; use more molecules)")
    leaf, count = np.unique(codes[:, 2], return_counts=True)
    print(f"tree codes of the test molecules at depth 3: {len(leaf)} groups, largest holds {count.max()}")
    return 0


def _forest_use(model) -> str:
    """What each head does with the residual forest: kept or not ("auto"), or its variant's weight ("blend")."""
    if all(head.weights is None for head in model.heads_):
        return "rf_residual " + ", ".join("on" if head.rf_residual else "off" for head in model.heads_)
    weights = [head.weights[True] if head.weights else float(head.rf_residual) for head in model.heads_]
    return "forest weight " + ", ".join(f"{w:.2f}" for w in weights)


def _compare(args: argparse.Namespace, transformer, X, y, split) -> list[tuple[str, str, float, float]]:
    """Default CHMR heads and random forests on the same split: (name, metric, value, seconds) rows."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    from ..estimators import CHMRClassifier, CHMRRegressor
    from ..featurize import FingerprintFeaturizer
    from ..model_selection import mean_mae, mean_roc_auc

    train, valid, test = split
    fp = FingerprintFeaturizer(n_jobs=args.n_jobs).fit_transform(X)
    threshold = float(np.median(y[train]))
    active = (y > threshold).astype(float)  # classification task: more active than the median
    head = {"transformer": transformer, "random_state": args.seed, "device": args.device, "max_epochs": args.epochs}
    rows = []

    def evaluate(name, model, features, target, metric):
        start = time.perf_counter()
        if name.startswith("CHMR"):
            model.fit(features[train], target[train], validation_data=(features[valid], target[valid]))
            name += f" ({_forest_use(model)})"
        else:
            model.fit(features[train], target[train])
        out = model.predict_proba(features[test])[:, 1] if metric is mean_roc_auc else model.predict(features[test])
        try:
            value = metric(target[test], out)
        except ValueError:  # ROC-AUC of a one-class test split (small --n subsets): undefined
            value = float("nan")
        rows.append((name, metric.__name__, value, time.perf_counter() - start))

    evaluate("CHMRRegressor", CHMRRegressor(**head), X, y, mean_mae)
    evaluate("RandomForestRegressor", RandomForestRegressor(500, n_jobs=args.n_jobs, random_state=args.seed), fp, y,
             mean_mae)
    print(f"classification task: activity > {threshold:.2f} (training median)")
    evaluate("CHMRClassifier", CHMRClassifier(**head), X, active, mean_roc_auc)
    evaluate("RandomForestClassifier", RandomForestClassifier(500, n_jobs=args.n_jobs, random_state=args.seed), fp,
             active, mean_roc_auc)
    return rows
