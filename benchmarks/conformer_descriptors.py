"""Which 3D descriptor families earn their cost: time per family, and validation value (issue 14).

Not a test: a side-by-side measurement, written to ``benchmarks/results/conformer_descriptors.md``.

1. **Cost**, one core, process CPU ms per molecule on RDKit's WEHI molecules: heavy-atom
   distance-geometry embedding at RDKit's force tolerance (1e-3, the shipped setting) and at
   1e-2, then each descriptor family on the embedded conformers.
2. **Value**, validation splits only (the benchmark splits; test rows are never read): a random
   forest on ``[1191 fingerprint bits ; 3D family subset]`` per dataset, 3 seeds, for each
   subset and both tolerances; ROC-AUC (mean over tasks) or MAE. A subset earns its cost when
   dropping it does not worsen validation.

The random forest is a cheap proxy for "does this block carry signal a head can use": the
decision that counts is ``benchmarks/model_selection.py`` on an encoder pretrained with the
chosen block.

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/conformer_descriptors.py          # ~15 min, 2 cores
    CHMR_DATA_HOME=../shared/data python benchmarks/conformer_descriptors.py --quick  # esol, 1 seed
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from rdkit import Chem, rdBase  # noqa: E402
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor  # noqa: E402
from rdkit.Chem import rdDistGeom  # noqa: E402

from chmr_sklearn.benchmark._data import load_split  # noqa: E402
from chmr_sklearn.benchmark._machine import load_average, load_smiles, machine_info  # noqa: E402
from chmr_sklearn.model_selection import mean_mae, mean_roc_auc  # noqa: E402
from chmr_sklearn.featurize import ConformerFeaturizer, FingerprintFeaturizer  # noqa: E402
from chmr_sklearn.featurize._conformer_descriptors import _FAMILIES, DESCRIPTOR_FAMILIES  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TOLS = (1e-3, 1e-2)
#: family subsets compared; "lean" is RECIPES["lean"]'s block
SUBSETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "all": DESCRIPTOR_FAMILIES,
    "lean (no RDF, MORSE)": ("autocorr3d", "whim", "usr", "shape"),
    "no RDF": ("autocorr3d", "morse", "whim", "usr", "shape"),
    "no MORSE": ("autocorr3d", "rdf", "whim", "usr", "shape"),
    "WHIM, USR, shape": ("whim", "usr", "shape"),
}
RF_PARAMS = {"n_estimators": 200, "max_features": "sqrt"}


def cpu_ms(func, n: int) -> float:
    """Process CPU milliseconds per molecule of ``func()`` over ``n`` molecules."""
    start = time.process_time()
    func()
    return (time.process_time() - start) / n * 1e3


def family_costs(smiles: list[str]) -> dict[str, float]:
    """CPU ms per molecule: embedding at each tolerance, then each descriptor family."""
    feat = ConformerFeaturizer()
    prepare = feat._descriptors()._prepare
    mols = [prepare(Chem.MolFromSmiles(s)) for s in smiles]
    mols = [m for m in mols if m is not None]
    costs, embedded = {}, []
    with rdBase.BlockLogs():
        for tol in TOLS:
            first_attempt = feat.set_params(force_tol=tol)._descriptors().embed_params
            copies = [Chem.Mol(m) for m in mols]
            costs[f"embed, force_tol={tol:g}"] = cpu_ms(
                lambda: [rdDistGeom.EmbedMolecule(m, first_attempt(0)) for m in copies], len(copies))
            embedded = embedded or [m for m in copies if m.GetNumConformers()]
        for name, (_, func) in _FAMILIES.items():
            costs[name] = cpu_ms(lambda: [func(m) for m in embedded], len(embedded))
    return costs


def _columns(families: tuple[str, ...]) -> np.ndarray:
    """Positions of ``families``' columns among all 651 descriptors (the featurizer's own names)."""
    if not families:
        return np.zeros(0, dtype=int)
    full = ConformerFeaturizer().get_feature_names_out()[:-1]
    return np.flatnonzero(np.isin(full, ConformerFeaturizer(descriptors=families).get_feature_names_out()))


def rf_valid(data, F: np.ndarray, seed: int) -> float:
    """Validation score of one random forest per task, fitted on that task's labelled train rows."""
    tr, va, _ = data.split  # the test rows are never touched
    classify = data.kind == "classification"
    P = np.zeros((len(va), data.Y.shape[1]))
    for task in range(data.Y.shape[1]):
        rows = tr[~np.isnan(data.Y[tr, task])]
        model = (RandomForestClassifier if classify else RandomForestRegressor)(**RF_PARAMS, n_jobs=2,
                                                                              random_state=seed)
        model.fit(F[rows], data.Y[rows, task])
        P[:, task] = model.predict_proba(F[va])[:, 1] if classify else model.predict(F[va])
    return float((mean_roc_auc if classify else mean_mae)(data.Y[va], P))


def dataset_value(name: str, seeds: list[int]) -> dict[str, dict[str, list[float]]]:
    """Validation score of RF on [fp ; subset] for every (tolerance, subset); ``{tol: {subset: [per seed]}}``."""
    data = load_split(name)
    smiles = list(data.smiles)
    fp = FingerprintFeaturizer(n_jobs=2).fit_transform(smiles).astype(np.float32)
    out = {}
    for tol in TOLS:
        conf = ConformerFeaturizer(force_tol=tol, n_jobs=2).fit_transform(smiles)[:, :-1]
        conf = np.nan_to_num(conf, nan=0.0).astype(np.float32)  # a failed conformer: zeros (few)
        out[f"{tol:g}"] = {}
        for label, families in SUBSETS.items():
            if label == "none" and tol != TOLS[0]:
                continue  # no 3D block: the tolerance does not matter
            F = np.hstack([fp, conf[:, _columns(families)]])
            runs = [rf_valid(data, F, seed) for seed in seeds]
            out[f"{tol:g}"][label] = runs
            print(f"{name} tol={tol:g} {label}: {np.mean(runs):.4f} ± {np.std(runs):.4f}", flush=True)
    return {"kind": data.kind, "scores": out}


def render(costs: dict, value: dict, meta: dict) -> str:
    """The markdown report."""
    lines = ["# 3D descriptor families: cost and validation value", "",
             f"Machine: {meta['machine']['cpu']}, {meta['machine']['cores']} cores. Load average at start {meta['load_start']}, at end {meta['load_end']}.",
             f"Command: `{meta['command']}`", "",
             f"## Cost (process CPU ms per molecule, one core, {meta['n_cost']} WEHI molecules, heavy-atom DG)", "",
             "| step | ms / molecule |", "|---|---:|"]
    lines += [f"| {k} | {v:.3f} |" for k, v in costs.items()]
    lines += ["", "## Value (validation splits; RF on [1191 fingerprint bits ; 3D subset], "
              f"{RF_PARAMS}, seeds {meta['seeds']}; mean ± std)", "",
              "ROC-AUC (higher is better) for classification, MAE (lower is better) for regression.", ""]
    for name, res in value.items():
        metric = "ROC-AUC" if res["kind"] == "classification" else "MAE"
        lines += [f"### {name} ({metric})", "", "| subset | " + " | ".join(f"force_tol={t}" for t in res["scores"])
                  + " |", "|---|" + "---:|" * len(res["scores"])]
        for label in SUBSETS:
            cells = [f"{np.mean(s[label]):.4f} ± {np.std(s[label]):.4f}" if label in s else "="
                     for s in res["scores"].values()]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["esol", "lipophilicity", "bace", "bbbp"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-cost", type=int, default=2000, help="WEHI molecules timed")
    parser.add_argument("--quick", action="store_true", help="esol, seed 0, 300 molecules timed; prints only")
    parser.add_argument("--out", default=str(RESULTS / "conformer_descriptors.md"))
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.seeds, args.n_cost = ["esol"], [0], 300
    meta = {"machine": machine_info(), "load_start": load_average(), "seeds": args.seeds, "n_cost": args.n_cost,
            "command": "python benchmarks/conformer_descriptors.py " + " ".join(sys.argv[1:])}
    costs = family_costs(load_smiles()[:: 10000 // args.n_cost][: args.n_cost])
    print(json.dumps(costs, indent=1), flush=True)
    value = {name: dataset_value(name, args.seeds) for name in args.datasets}
    meta["load_end"] = load_average()
    text = render(costs, value, meta)
    print(text)
    if not args.quick:
        Path(args.out).write_text(text + "\n")
        Path(args.out).with_suffix(".json").write_text(json.dumps({"meta": meta, "costs": costs, "value": value},
                                                                  indent=1) + "\n")


if __name__ == "__main__":
    main()
