"""Evidence for the heads' defaults: CHMRRegressor / CHMRClassifier variants on VALIDATION splits only.

Every variant is one parameter set against the estimators' defaults (``rf_residual``, ``lr``,
``validation_split``, ``rf_refit``, ``rf_offsets``, ``n_heads``, ``descriptors``), plus a seed ensemble averaged by
hand. Each head is fitted the way a user's ``fit(X, y)`` would (on the training rows only, with the estimator's own internal
validation split for early stopping) and scored on a held-out validation split that no
variant saw: the benchmark protocol's validation split for MoleculeNet (ESOL, FreeSolv,
Lipophilicity, BACE, BBBP, ClinTox, SIDER; OGB scaffold 80/10/10), and an inner 80/20 split of
the train part for MoleculeACE sets. Test rows are never scored. Each molecule is embedded once
into a disk cache; every variant then fits on the SMILES, as a user would (the scaffold-grouped
internal validation split needs the molecules), its embedding read back from that cache. RF on
the 1191 bits is the bar to beat. Writes ``benchmarks/results/head_defaults.md`` (+ ``.json``) after every
dataset.

Usage::

    CHMR_DATA_HOME=../shared/data nice -n 15 python benchmarks/head_defaults.py            # all 10 sets
    CHMR_DATA_HOME=../shared/data python benchmarks/head_defaults.py --quick --datasets freesolv bace
    python benchmarks/head_defaults.py --from-json run.json --notes notes.md   # re-render with a recommendation
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import numpy as np
import torch
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from chmr_sklearn import CHMRTransformer
from chmr_sklearn.benchmark import load_split
from chmr_sklearn.benchmark._data import N_FP
from chmr_sklearn.benchmark._machine import load_average, machine_info
from chmr_sklearn.benchmark._moleculeace import load_ace
from chmr_sklearn.benchmark._models import _as_2d, _targets, score
from chmr_sklearn.estimators import CHMRClassifier, CHMRRegressor

RESULTS = Path(__file__).resolve().parent / "results" / "head_defaults.md"
# Small sets first (results accumulate early on a loaded machine); the biggest last.
ORDER = ["freesolv", "ace:CHEMBL2835_Ki", "bace", "esol", "clintox", "ace:CHEMBL4203_Ki", "sider",
         "ace:CHEMBL2047_EC50", "bbbp", "lipophilicity"]
# Variants: a name and the parameters that differ from the estimator's defaults (regressor:
# lr 1e-4, rf_residual "blend" (runs before 5 December evening: "auto"), random validation split; classifier: lr 1e-3, rf_residual
# "auto", scaffold-grouped validation split; both n_heads=2). Each default is set against its
# alternatives.
_COMMON = {
    "default": {},
    "rf_residual=False": {"rf_residual": False},
    "rf_residual=True": {"rf_residual": True},
    "rf_residual=auto": {"rf_residual": "auto"},
    "rf_residual=blend": {"rf_residual": "blend"},
    "rf_refit=True": {"rf_refit": True},
    "rf_offsets=scaffold": {"rf_offsets": "scaffold"},
    "n_heads=1": {"n_heads": 1},
}
REG_VARIANTS = {**_COMMON, "lr=1e-3": {"lr": 1e-3}, "validation_split=scaffold": {"validation_split": "scaffold"},
                "rf_offsets+validation_split=scaffold": {"rf_offsets": "scaffold", "validation_split": "scaffold"},
                "descriptors=False": {"descriptors": False}, "max_epochs=300": {"max_epochs": 300},
                "n_heads=4": {"n_heads": 4}, "descriptors=fragments": {"descriptors": "fragments"}}
CLS_VARIANTS = {**_COMMON, "validation_split=random": {"validation_split": "random"},
                "descriptors=True": {"descriptors": True}}


def load(name: str) -> dict:
    """Rows to fit on and rows to score on; the test rows are not even kept."""
    if name.startswith("ace:"):
        d = load_ace(name[4:])
        return {"name": name, "smiles": d.smiles, "Y": d.y[:, None], "kind": "regression",
                "fit": d.inner_train, "score": d.inner_valid, "split": "MoleculeACE train part, inner 80/20"}
    d = load_split(name)
    tr, va, _ = d.split
    return {"name": name, "smiles": d.smiles, "Y": d.Y, "kind": d.kind, "fit": tr, "score": va,
            "split": f"{d.protocol['method']} {d.protocol['sizes']} train -> valid"}


def embed(smiles: np.ndarray, cache_dir: Path, precision: str) -> tuple[np.ndarray, CHMRTransformer]:
    # float32 by default here: ~1.7x faster embedding; every variant sees the same embedding, and
    # the head trains in float32 anyway, so the comparison does not depend on the last bits.
    transformer = CHMRTransformer(cache_dir=str(cache_dir), precision=precision)
    return np.asarray(transformer.fit_transform(smiles), dtype=np.float32), transformer


def fit_predict(d: dict, transformer: CHMRTransformer, params: dict, seed: int,
                quick: bool) -> tuple[np.ndarray, int]:
    # On SMILES, as a user fits: the scaffold-grouped internal validation split needs the
    # molecules; the transformer's disk cache (filled by embed) makes every fit's embedding a read.
    regression = d["kind"] == "regression"
    cls = CHMRRegressor if regression else CHMRClassifier
    extra = {"max_epochs": 10, "patience": 3, "rf_n_estimators": 50} if quick else {}
    est = cls(transformer, **params, **extra, device="cpu", random_state=seed)
    fit, sc = d["fit"], d["score"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        est.fit(d["smiles"][fit], _targets(d["Y"][fit]))  # the user's fit(X, y): internal validation split
    X = d["smiles"][sc]
    P = est.predict(X) if regression else est.predict_proba(X)
    return _as_2d(P, d["Y"].shape[1], d["kind"]), int(getattr(est, "n_epochs_", 0))


def rf_predict(d: dict, F: np.ndarray, quick: bool) -> np.ndarray:
    fit, sc, Y = d["fit"], d["score"], d["Y"]
    P = np.zeros((len(sc), Y.shape[1]))
    for t in range(Y.shape[1]):
        rows = fit[~np.isnan(Y[fit, t])]
        if d["kind"] == "classification":
            rf = RandomForestClassifier(n_estimators=50 if quick else 500, n_jobs=2, random_state=0)
            rf.fit(F[rows], Y[rows, t].astype(int))
            proba = rf.predict_proba(F[sc])
            P[:, t] = proba[:, 1] if proba.shape[1] == 2 else 0.0
        else:
            rf = RandomForestRegressor(n_estimators=50 if quick else 500, n_jobs=2, random_state=0)
            P[:, t] = rf.fit(F[rows], Y[rows, t]).predict(F[sc])
    return P


def run_dataset(name: str, seeds: list[int], quick: bool, cache_dir: Path, precision: str, log,
                only: list[str] | None = None) -> dict:
    d = load(name)
    t = time.perf_counter()
    E, transformer = embed(d["smiles"], cache_dir, precision)
    log(f"{name}: embedded {len(E)} molecules in {time.perf_counter() - t:.0f}s")
    key = "roc_auc" if d["kind"] == "classification" else "mae"
    Ys = d["Y"][d["score"]]
    out = {"name": name, "kind": d["kind"], "split": d["split"], "n_fit": len(d["fit"]), "n_score": len(d["score"]),
           "key": key, "variants": {}}
    variants = REG_VARIANTS if d["kind"] == "regression" else CLS_VARIANTS
    for vname, params in variants.items():
        if only and vname not in only:
            continue
        preds, singles, epochs, secs = [], [], [], []
        for seed in seeds:
            t = time.perf_counter()
            P, ep = fit_predict(d, transformer, params, seed, quick)
            secs.append(time.perf_counter() - t)
            preds.append(P)
            epochs.append(ep)
            singles.append(score(d["kind"], Ys, P))
        ens = score(d["kind"], Ys, np.mean(preds, axis=0))
        out["variants"][vname] = {"params": params, "single": singles, "ensemble": ens, "epochs": epochs,
                                  "fit_seconds": secs}
        vals = [s[key] for s in singles]
        log(f"{name} {vname}: valid {key} {np.mean(vals):.4f} ± {np.std(vals):.4f}, "
            f"{len(seeds)}-seed ensemble {ens[key]:.4f} (epochs {epochs}, {np.mean(secs):.0f}s/fit)")
    t = time.perf_counter()
    out["rf"] = score(d["kind"], Ys, rf_predict(d, E[:, :N_FP], quick))
    out["rf_trees"] = 50 if quick else 500
    log(f"{name} RF: valid {key} {out['rf'][key]:.4f} ({time.perf_counter() - t:.0f}s)")
    return out


def _value(res: dict, vname: str, ensemble: bool) -> float:
    v = res["variants"][vname]
    return v["ensemble"][res["key"]] if ensemble else float(np.mean([s[res["key"]] for s in v["single"]]))


def _better(res: dict, a: float, b: float) -> bool:
    return a > b if res["key"] == "roc_auc" else a < b


def _fmt(res: dict, x: float) -> str:
    return f"{100 * x:.1f}" if res["key"] == "roc_auc" else f"{x:.3f}"


def _section(results: list[dict], kind: str, n_seeds: int) -> list[str]:
    rs = [r for r in results if r["kind"] == kind]
    # the variants this run has (a run's JSON keeps its own names: re-rendering an older run works)
    variants = [v for v in dict.fromkeys(name for r in rs for name in r["variants"]) if all(v in r["variants"] for r in rs)]
    if not rs:
        return []
    unit = "ROC-AUC ×100, higher is better" if kind == "classification" else "MAE, lower is better"
    est = "CHMRClassifier" if kind == "classification" else "CHMRRegressor"
    lines = [f"## {est} ({unit})", ""]
    for ensemble in (False, True):
        what = f"{n_seeds}-seed ensemble (predictions averaged)" if ensemble else f"single model, mean over {n_seeds} seeds"
        lines += [f"**{what}**", "", "| variant | " + " | ".join(r["name"] for r in rs) + " | mean rank | beats RF |",
                  "|---|" + "---|" * (len(rs) + 2)]
        ranks = {v: [] for v in variants}
        for r in rs:
            vals = {v: _value(r, v, ensemble) for v in variants}
            order = sorted(vals, key=lambda v: -vals[v] if r["key"] == "roc_auc" else vals[v])
            for i, v in enumerate(order):
                ranks[v].append(i + 1)
        for v in variants:
            cells = []
            for r in rs:
                x = _value(r, v, ensemble)
                best = all(not _better(r, _value(r, w, ensemble), x) for w in variants)
                cells.append(f"**{_fmt(r, x)}**" if best else _fmt(r, x))
            beats = sum(_better(r, _value(r, v, ensemble), r["rf"][r["key"]]) for r in rs)
            lines.append(f"| {v} | " + " | ".join(cells) + f" | {np.mean(ranks[v]):.2f} | {beats}/{len(rs)} |")
        lines.append(f"| RF (1191 bits, {rs[0].get('rf_trees', 500)} trees) | " + " | ".join(_fmt(r, r["rf"][r["key"]]) for r in rs) + " | | |")
        lines.append("")
        best = min(variants, key=lambda v: (np.mean(ranks[v]), v != "default"))
        lines += [f"Lowest mean rank ({'ensembles' if ensemble else 'single models'}): **{best}** "
                  f"({np.mean(ranks[best]):.2f}; default {np.mean(ranks['default']):.2f}).", ""]
    # what the ensemble buys the default
    gains = [(r["name"], _value(r, "default", False), _value(r, "default", True)) for r in rs]
    lines += ["Default head, single model → " + f"{n_seeds}-seed ensemble: "
              + ", ".join(f"{n} {_fmt(r, a)} → {_fmt(r, b)}" for (n, a, b), r in zip(gains, rs)) + ".", ""]
    return lines


def _loads(load: str | list) -> str:
    """A load average as written: the shared record's string, or (runs before it) a list of floats."""
    return load if isinstance(load, str) else ", ".join(f"{x:.2f}" for x in load)


def write(report: dict, out: Path) -> None:
    meta, results = report["meta"], report["results"]
    load, load_end = _loads(meta["load_start"]), _loads(meta.get("load_end", meta["load_start"]))
    lines = [
        "# Head defaults: CHMRRegressor and CHMRClassifier variants on validation splits",
        "",
        ("**QUICK smoke run: tiny budgets, not a result.**\n" if meta["quick"] else ""),
        f"Machine: {meta['cpu']}, {meta['cores']} cores; load average (1/5/15 min) {load} at the start, "
        f"{load_end} at the last write; nice {meta.get('nice', 0)}. Started {meta.get('date', meta.get('started'))}, "
        f"wall {meta.get('wall_seconds', 0) / 60:.1f} min; "
        f"seeds {meta['seeds']}; embedding precision {meta.get('precision', 'float64')}.",
        "",
        "Every head is fitted as a user's `fit(X, y)` would be (training rows only; the estimator's own "
        "internal validation split for early stopping), on SMILES, its embedding computed once with the "
        "shipped model and read back from a disk cache, and scored on rows no variant saw: the OGB scaffold validation split (MoleculeNet), "
        "or an inner 80/20 split of the MoleculeACE train part (`ace:` sets). Test rows are never "
        "scored. Variants change one parameter from the estimators' defaults (hidden 1200, dropout 0.5, "
        "LayerNorm, max 100 epochs, patience 20, `rf_residual=\"auto\"`; "
        "classifier lr 1e-3, validation split scaffold-grouped; regressor lr 1e-4, L1 loss, targets standardized "
        "per task, validation split random). `rf_residual`: "
        "gamma 0.1, 500 trees on the 1191 bits. "
        "RF = random forest on the 1191 bits (500 trees, default leaf size), the bar to beat. Bold = best variant of the column.",
        "",
    ]
    if meta.get("notes"):
        lines += ["## Recommendation", "", meta["notes"].strip(), ""]
    for kind in ("regression", "classification"):
        lines += _section(results, kind, len(meta["seeds"]))
    if meta.get("pending"):
        lines += [f"Not run: {', '.join(meta['pending'])}.", ""]
    lines += ["Per-dataset fits, epochs and seconds: the `.json` next to this file.", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=float), encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=ORDER, choices=ORDER)
    ap.add_argument("--precision", default="float32", choices=["float32", "float64"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--quick", action="store_true", help="10 epochs, 50 trees (a smoke run)")
    ap.add_argument("--variants", nargs="+", choices=sorted({*REG_VARIANTS, *CLS_VARIANTS}),
                    help="run only these variants (\"default\" is always run: the others are set against it)")
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "chmr_head_defaults_cache")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--notes", type=Path, help="a Markdown paragraph to print as the recommendation")
    ap.add_argument("--from-json", type=Path, metavar="RUN.json",
                    help="only re-render --out (+ .json) from a run's JSON, e.g. with --notes")
    args = ap.parse_args(argv)
    if args.from_json:
        report = json.loads(args.from_json.read_text())
        if args.notes:
            report["meta"]["notes"] = args.notes.read_text()
        write(report, args.out or RESULTS)
        return
    out = args.out or (Path(tempfile.gettempdir()) / "head_defaults_quick.md" if args.quick else RESULTS)
    torch.set_num_threads(1)  # one torch thread: faster per epoch on a loaded 2-core machine
    start = time.perf_counter()

    def log(msg):
        print(f"{time.perf_counter() - start:7.1f}s {msg}", flush=True)

    meta = {**machine_info(), "nice": os.nice(0),  # machine_info's UTC "date" is when it started
            "quick": args.quick, "seeds": args.seeds, "precision": args.precision,
            "variants": sorted({"default", *args.variants}) if args.variants else None}
    report = {"meta": meta, "results": []}
    for i, name in enumerate(args.datasets):
        report["results"].append(run_dataset(name, args.seeds, args.quick, args.cache_dir, args.precision, log,
                                             meta["variants"]))
        meta.update(load_end=load_average(), wall_seconds=time.perf_counter() - start,
                    pending=args.datasets[i + 1:])
        write(report, out)
    log(f"wrote {out} (+ .json)")


if __name__ == "__main__":
    main()
