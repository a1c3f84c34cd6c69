"""Ablations of CHMR pretraining (the paper's table, on a CPU budget): the library side of ``benchmarks/ablations.py``.

The protocol is in the script's docstring. Here: the variants (:data:`VARIANTS`), the corpus
and its derived forms, pretraining each variant (:func:`pretrain_variant`), the heads and the
RF reference, and the report; :func:`pretrain_stage` and :func:`evaluate_variants` are the two
halves of a run (they may run in two processes side by side), :func:`merge` combines evaluate
stages. A :class:`Workspace` says where checkpoints go and holds the run-wide settings.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import pickle
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

from .. import datasets as D
from .._inputs import to_smiles
from ..estimators import CHMRClassifier, CHMRRegressor
from ..estimators.transformer import DEFAULT_MODEL
from ..featurize import FingerprintFeaturizer
from ..model_selection import mean_mae, mean_rmse, mean_roc_auc, scaffold_split
from ..pretrain import PretrainConfig, PretrainCorpus, Pretrainer
from ..pretrain.checkpoint import build_model
from ..profiles import ContextGraph
from ._machine import describe_versions, machine_info
from ._quality import Embedder, ablation_cells

__all__ = ["ALL_VARIANTS", "VARIANTS", "Workspace", "evaluate_variants", "merge", "pretrain_stage"]

N_FP = 1191
_CLIP = 10.0  # PretrainCorpus's standardization clip


@dataclasses.dataclass
class Workspace:
    """Where a run keeps checkpoints and the corpus (``runs``), the checkout (``repo``), run-wide settings.

    ``patience``: the heads' early stopping; ``device``: the pretraining device (heads and
    embeddings stay on CPU).
    """

    runs: Path
    repo: Path
    patience: int = 10
    device: str = "cpu"


# name -> (label, PretrainConfig overrides, corpus transform)
VARIANTS = {  # in the order they run (most informative first: a cut-short run still answers the main question)
    "full": ("Full CHMR (fill = propagate)", {}, None),
    "random_init": ("No pretraining (random-init encoder)", {}, "random"),
    "mol_only": ("Molecular modalities only", {}, "mol_only"),
    "no_sca": ("w/o SCA", {"use_sca": False}, None),
    "no_tree_vq": ("w/o Tree-VQ", {"use_tree_vq": False}, None),
    "flat_vq": ("Flat VQ instead of Tree-VQ", {"tree": "flat"}, None),
    "no_cpr": ("w/o CPR", {"use_cpr": False}, None),
    # no propagated rows to align with: SCA on observed profiles only, whatever the recipe
    "fill_zero": ("Zero fill (w/o propagation)", {"fill": "zero", "sca_propagated": False}, "fill"),
    "fill_mean": ("Mean fill", {"fill": "mean", "sca_propagated": False}, "fill"),
}
# Cheap-improvement probes (pretraining_quality.md): not part of the paper's table.
EXTRA_VARIANTS = {
    "profiled_only": ("Profiled molecules only, same molecule-updates (more epochs)", {}, "profiled"),
    "lr_3e-3": ("Full, lr 3e-3", {"lr": 3e-3}, None),
    "shipped": ("Shipped default.pt (its own corpus and budget, see default.json)", {}, "shipped"),
}
ALL_VARIANTS = {**VARIANTS, **EXTRA_VARIANTS}


def _shipped_budget() -> str:
    """The shipped default's pretraining budget, read from its manifest."""
    from ..estimators.transformer import DEFAULT_MODEL

    manifest = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    return (f"the shipped default: {manifest['epochs']} epochs on {manifest['n_molecules']:,} molecules, "
            f"lr {manifest['config']['lr']:g}")


# ---- corpus -----------------------------------------------------------------------------------
def eval_smiles(home: Path) -> list[str]:
    """Canonical structures of the two evaluation sets (ChEMBL2K, ESOL), no labels."""
    out = []
    for rel in ("infoalign/chembl2k_structure.csv.gz", "moleculenet/esol_delaney-processed.csv.gz"):
        out += [to_smiles(s) for s in pd.read_csv(home / rel, usecols=["smiles"])["smiles"]]
    return list(dict.fromkeys(s for s in out if s))


def profiled_smiles(home: Path, profile_files) -> list[str]:
    """Canonical structures of every profile table (paths relative to ``home``), first spelling kept."""
    out = []
    for rel in profile_files:
        out += [to_smiles(s) for s in pd.read_csv(home / rel, usecols=["smiles"])["smiles"]]
    return list(dict.fromkeys(s for s in out if s))


def corpus_smiles(home: Path, n_molecules: int, quick: bool, log, with_eval: bool = False, *,
                  profile_files, everything: list[str]) -> tuple[list[str], dict]:
    """Profiled molecules (+ evaluation structures if ``with_eval``) + a seeded sample of ``everything`` else."""
    profiled = profiled_smiles(home, profile_files)
    evals = eval_smiles(home) if with_eval else []
    if quick:  # a few hundred of each: exercises every code path in seconds
        profiled, evals = profiled[::6], evals[::20]
    head = list(dict.fromkeys(profiled + evals))
    taken = set(head)
    rest = [s for s in everything if s not in taken]
    n_rest = max(0, n_molecules - len(head))
    pick = np.sort(np.random.default_rng(0).choice(len(rest), size=min(n_rest, len(rest)), replace=False))
    smiles = head + [rest[i] for i in pick]
    info = {"profiled": len(profiled), "eval_structures": len(set(evals) - set(profiled)),
            "other": len(pick), "total": len(smiles), "corpus_pool": len(everything)}
    log(f"corpus molecules: {info}")
    return smiles, info



def derive_fill(corpus: PretrainCorpus, fill: str) -> PretrainCorpus:
    """The corpus PretrainCorpus.build(fill=fill) would give, from the propagate-filled one."""
    bio = {}
    for name, b in corpus.bio.items():
        inputs = b.inputs.copy()
        # inputs are (filled - mean) / std of the observed rows, clipped: mean fill -> 0, zero fill -> -mean/std
        value = 0.0 if fill == "mean" else np.clip(-b.mean / b.std, -_CLIP, _CLIP)
        inputs[~b.observed] = value
        bio[name] = dataclasses.replace(b, inputs=inputs.astype(np.float32))
    return dataclasses.replace(corpus, bio=bio)


def derive_mol_only(corpus: PretrainCorpus, config: PretrainConfig) -> PretrainCorpus:
    """The corpus without profile tables: the context graph keeps only its molecule–molecule part."""
    morgan = corpus.mol.fp[:, : config.fp_bits] > 0
    graph = ContextGraph.build(morgan, {}, target_density=config.graph_density,
                               min_threshold=config.graph_min_threshold)
    return dataclasses.replace(corpus, bio={}, graph=graph)


# ---- pretraining ------------------------------------------------------------------------------
def pretrain_variant(ws: Workspace, name: str, corpora: dict, base: dict, log) -> tuple[Path, dict]:
    """Pretrain variant ``name`` on its corpus (or reuse what an earlier run wrote); its checkpoint and info."""
    label, overrides, kind = ALL_VARIANTS[name]
    if kind == "shipped":  # evaluation only: the reference point of the full-budget model
        path = DEFAULT_MODEL
        manifest = json.loads(path.with_suffix(".json").read_text())
        return path, {"label": label, "config": manifest["config"], "n_molecules": manifest["n_molecules"],
                      "epochs": manifest["epochs"], "pretrain_seconds": manifest["train_seconds"],
                      "history": manifest["history"]}
    epochs = base["max_epochs"]
    corpus = corpora["main"]
    if kind == "fill":
        corpus = derive_fill(corpus, overrides["fill"])
    elif kind == "mol_only":
        corpus = corpora.setdefault("mol_only", derive_mol_only(corpus, PretrainConfig(**base)))
    elif kind == "profiled":
        corpus = corpora["profiled"]
        # same number of molecule-updates as the other variants
        epochs = max(1, round(base["max_epochs"] * len(corpora["main"]) / len(corpus)))
    config = PretrainConfig(**{**base, **overrides, "max_epochs": epochs})
    path, saved = ws.runs / f"{name}.pt", ws.runs / f"{name}.json"
    if path.is_file() and saved.is_file():  # a restarted run reuses what an earlier one pretrained
        info = json.loads(saved.read_text())
        if info["config"] == {k: v for k, v in config.to_dict().items() if k != "extra"} and \
                info["n_molecules"] == len(corpus):
            log(f"[{name}] reusing {path} (pretrained earlier with the same settings)")
            return path, info
    trainer = Pretrainer(config, device=ws.device, verbose=0)
    tic = time.perf_counter()
    if kind == "random":
        # The same model build_model makes before the first pretraining step, never updated.
        trainer.spec_ = trainer._spec(corpus)
        seeded = torch.Generator().manual_seed(config.seed)  # as Pretrainer seeds its model
        trainer.model_ = build_model(trainer.spec_, generator=seeded).eval()
        trainer.scaler_ = corpus.scaler
        trainer.history_ = []
    else:
        trainer.fit(corpus)
    seconds = time.perf_counter() - tic
    trainer.export(path, meta={"variant": name, "n_molecules": len(corpus)})
    hist = trainer.history_
    info = {"label": label, "config": {k: v for k, v in config.to_dict().items() if k != "extra"},
            "n_molecules": len(corpus), "epochs": 0 if kind == "random" else epochs,
            "pretrain_seconds": round(seconds, 1), "history": hist}
    last = hist[-1] if hist else {}
    log(f"[{name}] pretrained {info['epochs']} epochs on {len(corpus)} molecules in {seconds:.0f} s; "
        f"last epoch loss {last.get('loss', float('nan')):.3f} (cpr {last.get('cpr', float('nan')):.3f}, "
        f"sca {last.get('sca', float('nan')):.3f}, tree {last.get('tree', float('nan')):.3f})")
    saved.write_text(json.dumps(info))
    return path, info


def wait_for(path: Path, log, poll: float = 15.0) -> None:
    """Block until ``path`` exists (the evaluate stage follows a pretrain stage running alongside)."""
    if not path.is_file():
        log(f"waiting for {path}")
    while not path.is_file():
        time.sleep(poll)


def load_variant(ws: Workspace, name: str, log) -> tuple[Path, dict]:
    """What a pretrain stage wrote for ``name`` (or the shipped model's manifest)."""
    if ALL_VARIANTS[name][2] == "shipped":
        return pretrain_variant(ws, name, {}, {}, log)
    wait_for(ws.runs / f"{name}.json", log)
    return ws.runs / f"{name}.pt", json.loads((ws.runs / f"{name}.json").read_text())


# ---- evaluation -------------------------------------------------------------------------------
def load_eval_sets(quick: bool) -> dict:
    """ChEMBL2K (InfoAlign split) and ESOL (OGB split): X, Y (n, T), kind, split."""
    out = {}
    for name, loader, drop in (("chembl2k", D.load_chembl2k, False), ("esol", D.load_esol, True)):
        bunch = loader(drop_invalid=drop)
        X = bunch.data.to_numpy(dtype=object)
        Y = np.asarray(bunch.target, dtype=np.float64)
        Y = Y[:, None] if Y.ndim == 1 else Y
        kind = "classification" if bunch.metric == "mean_roc_auc" else "regression"
        protocol = bunch.split_protocol or {"method": "ogb", "sizes": (0.8, 0.1, 0.1), "random_state": None}
        tr, va, te = scaffold_split(X, **protocol)
        if name == "chembl2k":
            assert (len(tr), len(va), len(te)) == (1413, 353, 589), (len(tr), len(va), len(te))
        keep = [len(np.unique(Y[tr, t][~np.isnan(Y[tr, t])])) >= 2 if kind == "classification" else True
                for t in range(Y.shape[1])]
        out[name] = {"X": X, "Y": Y[:, np.asarray(keep)], "kind": kind, "split": (tr, va, te), "protocol": protocol}
    return out


def metric(kind: str, Y: np.ndarray, P: np.ndarray) -> dict:
    """ROC-AUC ×100 (classification) or MAE and RMSE (regression), NaN-aware over tasks."""
    if kind == "classification":
        return {"roc_auc": 100 * mean_roc_auc(Y, P)}
    return {"mae": mean_mae(Y, P), "rmse": mean_rmse(Y, P)}


MAIN = {"classification": "roc_auc", "regression": "mae"}


def _y(Y, idx):
    y = Y[idx]
    return y[:, 0] if y.shape[1] == 1 else y


def _pred(est, E, kind, T):
    P = np.asarray(est.predict_proba(E) if kind == "classification" else est.predict(E), dtype=np.float64)
    if kind == "classification" and T == 1 and P.ndim == 2 and P.shape[1] == 2:
        P = P[:, 1:]
    return P[:, None] if P.ndim == 1 else P


def fit_head(ds: dict, E: np.ndarray, params: dict, seed: int, max_epochs: int, patience: int = 10) -> dict:
    """One passthrough head on embeddings ``E``, early-stopped on the validation split; valid/test scores."""
    tr, va, te = ds["split"]
    cls = CHMRClassifier if ds["kind"] == "classification" else CHMRRegressor
    est = cls("passthrough", hidden=params["hidden"], dropout=params["dropout"], lr=params["lr"], batch_size=256,
              max_epochs=max_epochs, patience=patience, rf_residual=False, device="cpu", random_state=seed)
    tic = time.perf_counter()
    est.fit(E[tr], _y(ds["Y"], tr), validation_data=(E[va], _y(ds["Y"], va)))
    T = ds["Y"].shape[1]
    return {"seed": seed, "fit_seconds": time.perf_counter() - tic, "epochs": int(est.n_epochs_),
            "valid": metric(ds["kind"], ds["Y"][va], _pred(est, E[va], ds["kind"], T)),
            "test": metric(ds["kind"], ds["Y"][te], _pred(est, E[te], ds["kind"], T))}


def fit_rf(ds: dict, seed: int) -> dict:
    """One 500-tree forest per task on the fingerprints ``ds["F"]`` (labelled train rows); valid/test scores."""
    tr, va, te = ds["split"]
    F = ds["F"]
    Y = ds["Y"]
    Pv, Pt = np.zeros((len(va), Y.shape[1])), np.zeros((len(te), Y.shape[1]))
    tic = time.perf_counter()
    for t in range(Y.shape[1]):
        rows = tr[~np.isnan(Y[tr, t])]
        if ds["kind"] == "classification":
            rf = RandomForestClassifier(n_estimators=500, min_samples_leaf=2, n_jobs=1, random_state=seed)
            rf.fit(F[rows], Y[rows, t].astype(int))
            Pv[:, t], Pt[:, t] = rf.predict_proba(F[va])[:, 1], rf.predict_proba(F[te])[:, 1]
        else:
            rf = RandomForestRegressor(n_estimators=500, min_samples_leaf=2, n_jobs=1, random_state=seed)
            rf.fit(F[rows], Y[rows, t])
            Pv[:, t], Pt[:, t] = rf.predict(F[va]), rf.predict(F[te])
    return {"seed": seed, "fit_seconds": time.perf_counter() - tic,
            "valid": metric(ds["kind"], Y[va], Pv), "test": metric(ds["kind"], Y[te], Pt)}


# The committed downstream run (benchmarks/results/downstream.json of commit 61795bd, 14:57 UTC):
# pinned because that file is rewritten by its owner's later runs in another format.
DOWNSTREAM_COMMIT = "61795bd"


def downstream_results(repo: Path) -> list | None:
    """The pinned downstream run's results (``git show`` in ``repo``), or None outside a checkout."""
    import subprocess

    try:
        text = subprocess.run(["git", "show", f"{DOWNSTREAM_COMMIT}:benchmarks/results/downstream.json"], cwd=repo,
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return json.loads(text)["results"]


def heads_from_downstream(results: list) -> dict:
    """The head hyperparameters downstream.py chose on the validation split for the shipped model."""
    out = {}
    for r in results:
        params = dict(kv.split("=") for kv in r["head"]["chosen"].split(","))
        out[r["name"]] = {"lr": float(params["lr"]), "dropout": float(params["dropout"]), "hidden": int(params["hidden"])}
    return out


def rf_from_downstream(results: list, name: str, ds: dict, seeds) -> list | None:
    """The RF runs (500 trees, min_samples_leaf=2, seeded) that downstream.py measured on the same
    split: identical forests to what this script would fit, so not refitted here."""
    for r in results:
        if r["name"] != name or r["split_sizes"] != [len(s) for s in ds["split"]]:
            continue
        runs = [x for x in r["rf"]["runs"].get("min_samples_leaf=2", []) if x["seed"] in seeds]
        if len(runs) != len(seeds):
            return None
        scale = 100.0 if ds["kind"] == "classification" else 1.0
        for x in runs:
            for part in ("valid", "test"):
                x[part] = {k: v * scale if k == "roc_auc" else v for k, v in x[part].items()}
            x["source"] = f"benchmarks/results/downstream.json at commit {DOWNSTREAM_COMMIT}"
        return runs
    return None


def mean_std(values) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    a = np.asarray(values, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def choose_head(ds: dict, E: np.ndarray, grid: list[dict], max_epochs: int, log, name: str,
                patience: int = 10) -> tuple[dict, list]:
    """Every grid point on seed 0; the best on the validation split (test scores play no part)."""
    key = MAIN[ds["kind"]]
    runs = []
    for params in grid:
        r = fit_head(ds, E, params, 0, max_epochs, patience)
        runs.append({"params": params, **r})
        log(f"  head grid {name} {params}: valid {r['valid'][key]:.3f} test {r['test'][key]:.3f}")
    better = max if ds["kind"] == "classification" else min
    best = better(runs, key=lambda r: r["valid"][key])
    return best["params"], runs


# ---- report -----------------------------------------------------------------------------------
def summarize(results: dict, sets: dict) -> dict:
    """Per variant and dataset: test/valid mean ± std over head seeds; Δ vs full (relative, + = better)."""
    out = {}
    full = results.get("full")
    for name, r in results.items():
        row = {}
        deltas = []
        for ds_name, ds in sets.items():
            key = MAIN[ds["kind"]]
            t = mean_std([s["test"][key] for s in r["eval"][ds_name]])
            v = mean_std([s["valid"][key] for s in r["eval"][ds_name]])
            row[ds_name] = {"test": t, "valid": v}
            if full is not None:
                f = np.mean([s["test"][key] for s in full["eval"][ds_name]])
                deltas.append((t[0] - f) / f if ds["kind"] == "classification" else (f - t[0]) / f)
        row["delta_pct"] = 100 * float(np.mean(deltas)) if deltas else None
        out[name] = row
    return out


def plot(summary: dict, results: dict, rf: dict, path: Path) -> None:
    """Bar chart of every variant's test score on both sets, with the RF reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    labels = [results[n]["label"] for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(12, 0.45 * len(names) + 1.8), sharey=True)
    for ax, ds_name, title in ((axes[0], "chembl2k", "ChEMBL2K test ROC-AUC ×100 (higher is better)"),
                               (axes[1], "esol", "ESOL test MAE (lower is better)")):
        m = [summary[n][ds_name]["test"][0] for n in names]
        s = [summary[n][ds_name]["test"][1] for n in names]
        colors = ["tab:gray" if n == "random_init" else "tab:orange" if n in EXTRA_VARIANTS else "tab:blue"
                  for n in names]
        ax.barh(range(len(names)), m, xerr=s, color=colors, alpha=0.8)
        ax.axvline(rf[ds_name]["test"][0], color="tab:red", ls="--", label="RF (same split)")
        if "full" in summary:
            ax.axvline(summary["full"][ds_name]["test"][0], color="k", ls=":", label="full CHMR")
        lo, hi = min(m + [rf[ds_name]["test"][0]]), max(m + [rf[ds_name]["test"][0]])
        pad = (hi - lo) * 0.3 + 1e-3
        ax.set_xlim(lo - pad - max(s), hi + pad + max(s))
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_yticks(range(len(names)), labels, fontsize=8)
    axes[0].invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _recipe_settings(base: dict) -> str:
    """The PretrainConfig fields every variant shares beyond epochs, batch, lr and seed."""
    rest = {k: v for k, v in base.items() if k not in ("max_epochs", "batch_size", "lr", "seed")}
    return f"`{rest}`" if rest else "PretrainConfig() defaults (the official schedule)"


def _report_header(meta: dict, chosen: dict) -> list[str]:
    """Title and the protocol: timings, machine, corpus, pretraining budget and heads."""
    source = meta.get("heads_source", "chosen on the validation split for the full variant, seed 0")  # older runs
    return ["# CHMR pretraining ablations (same corpus, epochs and seed for every variant)", "",
            (f"- date: {meta['date']}; mode: {meta['mode']}; total wall time **{meta['wall_minutes']:.1f} min** "
             f"(corpus build {meta['corpus_seconds']:.0f} s, pretraining {meta['pretrain_seconds']:.0f} s, "
             f"evaluation {meta['eval_seconds']:.0f} s)"),
            f"- machine: {meta['machine']}; load average at start {meta['load_start']}, at end {meta['load_end']}",
            f"- versions: {meta['versions']}",
            f"- command: `{meta['command']}`",
            (f"- corpus: {meta['corpus']['total']:,} molecules = {meta['corpus']['profiled']:,} with a biological "
             f"profile + {meta['corpus']['eval_structures']:,} forced ChEMBL2K/ESOL structures (no labels) + "
             f"{meta['corpus']['other']:,} others drawn with seed 0 from the "
             f"{meta['corpus']['corpus_pool']:,}-molecule corpus of `scripts/pretrain_default.py`; observed profile "
             f"rows {meta['observed']}; context graph {meta['graph']}"),
            (f"- pretraining budget (every variant): {meta['base']['max_epochs']} epochs, batch "
             f"{meta['base']['batch_size']}, Adam lr {meta['base']['lr']}, seed {meta['base']['seed']}, "
             f"settings {_recipe_settings(meta['base'])}, torch threads {meta['threads']}; {_shipped_budget()}"),
            (f"- heads: fixed hyperparameters ({source}): {dict(chosen)}; max {meta['head_epochs']} epochs, "
             f"patience {meta['patience']} on validation (best epoch restored); seeds {meta['seeds']}; embedding "
             "`CHMRTransformer(pretrained=ckpt, precision='float32')` (`concat`, 2091 columns)"), ""]


# The paper's ablation table (ChEMBL2K ROC-AUC, Δ) beside ours; "–" where it reports none.
_PAPER = {"full": ("84.7", "–"), "fill_zero": ("81.6", "−5.3 %"), "no_sca": ("82.4", "−3.6 %"),
          "no_tree_vq": ("82.3", "−3.9 %"), "flat_vq": ("83.2", "−2.0 %"), "no_cpr": ("82.6", "−3.5 %"),
          "mol_only": ("81.5", "−4.9 %"), "fill_mean": ("–", "−2.9 % (mean or neighbour fill)")}


def _main_table(results: dict, summary: dict, rf: dict) -> list[str]:
    """How Δ is computed, then one row per variant beside the paper's, and the RF reference."""
    L = [("Δ = mean over the two datasets of the relative change of the test metric vs the full variant, "
          "signed so that **negative = worse** (ROC-AUC: (v − full)/full; MAE: (full − v)/full), as the paper's Δ. "
          "Test numbers are mean ± std (ddof=1) over head seeds; valid in the details below."), "",
         "| variant | ChEMBL2K ROC-AUC (test) | ESOL MAE (test) | Δ vs full | pretrain s | paper ChEMBL2K | paper Δ |",
         "|---|---:|---:|---:|---:|---:|---:|"]
    for name, row in summary.items():
        p = _PAPER.get(name, ("", ""))
        L.append(f"| {results[name]['label']} | {ablation_cells(name, row)} | "
                 f"{results[name]['pretrain_seconds']:.0f} | {p[0]} | {p[1]} |")
    L.append(f"| RF, 500 trees, 1191-bit fp (reference) | {rf['chembl2k']['test'][0]:.1f} ± "
             f"{rf['chembl2k']['test'][1]:.1f} | {rf['esol']['test'][0]:.3f} ± {rf['esol']['test'][1]:.3f} | | | | |")
    return L + ["", "![ablations](ablations.png)", ""]


def _details_table(results: dict, summary: dict) -> list[str]:
    """Per variant: validation scores, ESOL RMSE, head epochs and the pretraining loss per epoch."""
    L = ["## Details", "",
         ("| variant | ChEMBL2K valid | ESOL valid MAE | ESOL test RMSE | head epochs (chembl2k / esol) | pretraining "
          "loss per epoch (total; cpr / sca / tree of the last) |"), "|---|---:|---:|---:|---|---|"]
    for name, row in summary.items():
        r = results[name]
        rm = mean_std([s["test"]["rmse"] for s in r["eval"]["esol"]])
        ep = "/".join(str(int(np.mean([s["epochs"] for s in r["eval"][d]]))) for d in ("chembl2k", "esol"))
        h = r["history"]
        loss = ", ".join(f"{x['loss']:.2f}" for x in h) + (
            f"; {h[-1]['cpr']:.3f} / {h[-1]['sca']:.3f} / {h[-1]['tree']:.3f}" if h else "–")
        L.append(f"| {name} | {row['chembl2k']['valid'][0]:.1f} ± {row['chembl2k']['valid'][1]:.1f} | "
                 f"{row['esol']['valid'][0]:.3f} ± {row['esol']['valid'][1]:.3f} | {rm[0]:.3f} ± {rm[1]:.3f} | "
                 f"{ep} | {loss} |")
    return L


def _grid_and_notes(meta: dict, rf: dict, sets: dict) -> list[str]:
    """RF validation scores, every head hyperparameter tried, and what each variant changes."""
    L = ["", (f"RF valid: ChEMBL2K {rf['chembl2k']['valid'][0]:.1f}, ESOL MAE {rf['esol']['valid'][0]:.3f}. "
         "Head hyperparameter grid (full variant, seed 0):"), ""]
    for ds_name, runs in meta["grid_runs"].items():
        key = MAIN[sets[ds_name]["kind"]]
        for r in runs:
            L.append(f"- {ds_name} {r['params']}: valid {r['valid'][key]:.3f}, test {r['test'][key]:.3f}")
    return L + ["", ("Notes: the fill variants differ only in the encoder input of molecules without a profile (the "
               "augmented views for VICReg always come from propagation, as in `PretrainCorpus.build`); 'w/o CPR' "
               "keeps the corpus but skips the reconstruction loss; 'molecular modalities only' has no profile "
               "encoder, no SCA, and CPR walks only molecule–molecule edges; flat VQ quantizes against one "
               "flat codebook. The random-init control is `build_model` under `torch.manual_seed(seed)` exported "
               "with the same conformer scaler. Raw per-seed numbers: `ablations.json`.")]


def write_report(out: Path, meta: dict, results: dict, summary: dict, rf: dict, chosen: dict, sets: dict) -> None:
    """The Markdown report: protocol, machine, the ablation table, findings."""
    L = (_report_header(meta, chosen) + _main_table(results, summary, rf) + meta.get("findings", [])
         + _details_table(results, summary) + _grid_and_notes(meta, rf, sets))
    out.write_text("\n".join(L) + "\n")


def findings(summary: dict, rf: dict) -> list[str]:
    """A few sentences computed from the numbers (no hand-written claims)."""
    if "full" not in summary:
        return []
    L = ["## What the table says", ""]
    f = summary["full"]
    if "random_init" in summary:
        r = summary["random_init"]
        L.append(f"- pretraining vs the random-init encoder: ChEMBL2K {f['chembl2k']['test'][0]:.1f} vs "
                 f"{r['chembl2k']['test'][0]:.1f} (Δ {f['chembl2k']['test'][0] - r['chembl2k']['test'][0]:+.1f}, "
                 f"seed std {f['chembl2k']['test'][1]:.1f} / {r['chembl2k']['test'][1]:.1f}); ESOL MAE "
                 f"{f['esol']['test'][0]:.3f} vs {r['esol']['test'][0]:.3f}.")
    L.append(f"- full CHMR vs RF: ChEMBL2K {f['chembl2k']['test'][0]:.1f} vs {rf['chembl2k']['test'][0]:.1f}; "
             f"ESOL MAE {f['esol']['test'][0]:.3f} vs {rf['esol']['test'][0]:.3f}.")
    ranked = sorted((n for n in summary if n != "full" and summary[n]["delta_pct"] is not None),
                    key=lambda n: summary[n]["delta_pct"])
    L.append("- variants by Δ (most harmful first): " + ", ".join(
        f"{n} {summary[n]['delta_pct']:+.1f} %" for n in ranked) + ".")
    spread = max(summary[n]["chembl2k"]["test"][1] for n in summary)
    L.append(f"- the largest head-seed std on ChEMBL2K is {spread:.1f} AUC points: differences between variants "
             "smaller than ~2× that are within noise at this budget.")
    return L + [""]


def merge(paths: list, out: Path, wall_minutes: float | None = None) -> None:
    """One report from several evaluate stages' JSON files (same corpus, heads and RF reference)."""
    parts = [json.loads(Path(p).read_text()) for p in paths]
    first = parts[0]
    results = {}
    for part in parts:
        if part["chosen"] != first["chosen"] or part["meta"]["base"] != first["meta"]["base"]:
            raise ValueError("the evaluate stages used different heads or pretraining settings")
        results.update(part["results"])
    order = [v for v in ALL_VARIANTS if v in results]
    results = {v: results[v] for v in order}
    sets = {"chembl2k": {"kind": "classification"}, "esol": {"kind": "regression"}}
    summary = summarize(results, sets)
    meta = dict(first["meta"])
    meta["wall_minutes"] = wall_minutes or max(p["meta"]["wall_minutes"] for p in parts)
    meta["eval_seconds"] = sum(p["meta"]["eval_seconds"] for p in parts)
    meta["pretrain_seconds"] = sum(p["meta"]["pretrain_seconds"] for p in parts)
    meta["command"] = " + ".join(p["meta"]["command"] for p in parts) + " (runs merged with --merge)"
    meta["load_end"] = parts[-1]["meta"]["load_end"]
    meta["findings"] = findings(summary, first["rf"])
    write_report(out, meta, results, summary, first["rf"], first["chosen"], sets)
    out.with_suffix(".json").write_text(json.dumps(
        {"meta": meta, "chosen": first["chosen"], "rf": first["rf"], "summary": summary, "results": results},
        indent=1, default=str))
    plot(summary, results, first["rf"], out.with_suffix(".png"))


# ---- the two stages of a run ------------------------------------------------------------------
def pretrain_stage(ws: Workspace, opts, base: dict, variants: list[str], log, *,
                   choose_smiles: Callable[[], tuple[list[str], dict]], load_profiles: Callable[[], dict]) -> dict | None:
    """Build (or load) the corpus and, in a pretrain-only stage, pretrain every variant.

    ``opts`` holds the script's options (``stage``, ``corpus``). An evaluate stage waits for
    the corpus record a pretrain stage writes. Returns the corpus record (``corpora`` — None
    in an evaluate stage —, ``corpus_info``, ``observed``, ``graph``, ``corpus_seconds``), or
    None when this process only pretrains.
    """
    corpus_meta = ws.runs / "corpus_meta.json"
    if opts.stage == "pretrain" and opts.corpus:
        # a second pretrain process beside a first one: same corpus, other variants
        with open(opts.corpus, "rb") as fh:
            corpora = pickle.load(fh)
        log(f"corpus loaded from {opts.corpus}")
        for name in variants:
            pretrain_variant(ws, name, corpora, base, log)
        return None
    if opts.stage == "evaluate":
        wait_for(corpus_meta, log)
        cm = json.loads(corpus_meta.read_text())
        if cm["base"] != base:
            raise ValueError(f"{corpus_meta} was written for {cm['base']}, this run asks for {base}.")
        return {"corpora": None, **{k: cm[k] for k in ("corpus_info", "observed", "graph", "corpus_seconds")}}
    corpus_meta.unlink(missing_ok=True)  # an evaluate stage must not read an earlier run's
    smiles, corpus_info = choose_smiles()
    tic = time.perf_counter()
    corpora = build_corpora(ws, smiles, corpus_info, load_profiles(), base, log)
    corpus_seconds = time.perf_counter() - tic
    main_c = corpora["main"]
    observed = {n: int(b.observed.sum()) for n, b in main_c.bio.items()}
    graph = main_c.graph.summary().replace("\n", ";") if main_c.graph is not None else None
    log(f"corpus built in {corpus_seconds:.0f} s: {len(main_c)} molecules, observed {observed}, graph {graph}")
    record = {"corpus_info": corpus_info, "observed": observed, "graph": graph, "corpus_seconds": corpus_seconds}
    corpus_meta.write_text(json.dumps({**record, "base": base}))
    if opts.stage == "pretrain":
        for name in variants:
            pretrain_variant(ws, name, corpora, base, log)
        return None
    return {"corpora": corpora, **record}


def build_corpora(ws: Workspace, smiles: list[str], corpus_info: dict, profiles: dict, base: dict, log) -> dict:
    """The main corpus and the profiled-molecules one (pickled under ``ws.runs``: a rerun loads them)."""
    cache = ws.runs / f"corpus_{len(smiles)}_{hashlib.sha256(''.join(smiles).encode()).hexdigest()[:12]}.pkl"
    if cache.is_file():  # a rerun (e.g. more variants) skips the build; runs/ is never committed
        with open(cache, "rb") as fh:
            corpora = pickle.load(fh)
        log(f"corpus loaded from {cache}")
        return corpora
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # profile rows outside the subset are expected
        corpora = {"main": PretrainCorpus.build(smiles, profiles, PretrainConfig(**base), n_jobs=1),
                   "profiled": PretrainCorpus.build(smiles[: corpus_info["profiled"]], profiles,
                                                    PretrainConfig(**base), n_jobs=1)}
    with open(cache, "wb") as fh:
        pickle.dump(corpora, fh)
    return corpora


def rf_reference(sets: dict, seeds, downstream: list | None, log) -> dict:
    """RF per dataset: taken from the pinned downstream run when it measured the same forests, else fitted."""
    rf = {}
    for ds_name, ds in sets.items():
        runs = None
        if downstream is not None:
            runs = rf_from_downstream(downstream, ds_name, ds, seeds)
        if runs is None:
            ds["F"] = FingerprintFeaturizer().fit_transform(ds["X"])  # = the embedding's first 1191 columns
            runs = [fit_rf(ds, s) for s in seeds]
        key = MAIN[ds["kind"]]
        rf[ds_name] = {"test": mean_std([r["test"][key] for r in runs]), "valid": mean_std([r["valid"][key] for r in runs]),
                       "runs": runs}
        log(f"RF {ds_name}: test {rf[ds_name]['test'][0]:.3f} ± {rf[ds_name]['test'][1]:.3f}")
    return rf


def evaluate_variant(ws: Workspace, info: dict, path: Path, sets: dict, state: dict, opts, head_epochs: int,
                     embedder: Embedder, log, name: str) -> None:
    """Embed both sets with checkpoint ``path`` and fit the heads (every seed) into ``info["eval"]``.

    ``state`` carries what the first variant decides for the others: ``chosen`` heads, their
    ``grid_runs`` and the ``embed_check`` against the public transformer.
    """
    info["eval"] = {}
    for ds_name, ds in sets.items():
        E = embedder(path, ds["X"])
        if ds_name not in state["embed_check"]:
            diff = embedder.check(path, ds["X"], E, 16)
            state["embed_check"][ds_name] = diff
            log(f"featurize-once embedding vs CHMRTransformer on 16 {ds_name} molecules: max |diff| {diff:.1e}")
        if ds_name not in state["chosen"]:  # once, on the full variant's validation split
            grid = [{"lr": lr, "dropout": dr, "hidden": 1200} for lr in (1e-3, 1e-4) for dr in (0.2, 0.5)]
            if opts.quick:
                grid = grid[:2]
            state["chosen"][ds_name], state["grid_runs"][ds_name] = choose_head(ds, E, grid, head_epochs, log, ds_name,
                                                                                ws.patience)
        info["eval"][ds_name] = [fit_head(ds, E, state["chosen"][ds_name], s, head_epochs, ws.patience)
                                 for s in opts.seeds]
        key = MAIN[ds["kind"]]
        m = mean_std([r["test"][key] for r in info["eval"][ds_name]])
        log(f"[{name}] {ds_name}: test {key} {m[0]:.3f} ± {m[1]:.3f}")


def evaluate_variants(ws: Workspace, opts, variants: list[str], corpus: dict, base: dict, out: Path, *, command: str,
                      log, t0: float, load_start: str) -> None:
    """RF reference, then every variant: (pretrain and) evaluate, writing the report after each one.

    ``opts`` holds the script's options (``quick``, ``seeds``, ``stage``, ``heads``,
    ``head_epochs``, ``threads``, ``patience``); ``corpus`` is :func:`pretrain_stage`'s record.
    """
    head_epochs = 10 if opts.quick else opts.head_epochs
    sets = load_eval_sets(opts.quick)
    downstream = None if opts.quick else downstream_results(ws.repo)
    rf = rf_reference(sets, opts.seeds, downstream, log)
    embedder = Embedder()
    results, pretrain_s, eval_s = {}, 0.0, 0.0
    state = {"chosen": {}, "grid_runs": {}, "embed_check": {}}
    if opts.heads == "downstream" and downstream is not None:
        # CPU budget: the shared cores gave this job ~5 % of a core, so the head grid is not rerun
        state["chosen"] = {k: v for k, v in heads_from_downstream(downstream).items() if k in sets}
        state["grid_runs"] = {k: [] for k in state["chosen"]}
        log(f"head hyperparameters from downstream.py's validation choice for the shipped model: {state['chosen']}")
    for name in variants:
        torch.set_num_threads(opts.threads)
        if opts.stage == "all":
            path, info = pretrain_variant(ws, name, corpus["corpora"], base, log)
        else:
            path, info = load_variant(ws, name, log)
        torch.set_num_threads(1)  # small heads: one thread was 2-4x faster than two (downstream.md)
        pretrain_s += info["pretrain_seconds"]
        tic = time.perf_counter()
        evaluate_variant(ws, info, path, sets, state, opts, head_epochs, embedder, log, name)
        eval_s += time.perf_counter() - tic
        results[name] = info
        # write after every variant: a long run interrupted still leaves a usable table
        summary = summarize(results, sets)
        meta = {
            "date": _dt.datetime.now().isoformat(timespec="seconds"), "mode": "quick" if opts.quick else "full",
            "wall_minutes": (time.perf_counter() - t0) / 60, "corpus_seconds": corpus["corpus_seconds"],
            "pretrain_seconds": pretrain_s, "eval_seconds": eval_s,
            "machine": f"{os.cpu_count()} logical cores, {platform.processor() or platform.machine()}",
            "load_start": load_start, "load_end": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
            "versions": describe_versions(machine_info()),
            "command": command, "corpus": corpus["corpus_info"], "observed": corpus["observed"],
            "graph": corpus["graph"], "base": base, "threads": opts.threads, "head_epochs": head_epochs,
            "patience": opts.patience, "seeds": opts.seeds, "grid_runs": state["grid_runs"],
            "embed_check": state["embed_check"],
            "heads_source": ("downstream.py's validation choice for the shipped full model, commit " + DOWNSTREAM_COMMIT)
            if opts.heads == "downstream" else "chosen on the validation split for the full variant, seed 0",
        }
        meta["findings"] = findings(summary, rf)
        write_report(out, meta, results, summary, rf, state["chosen"], sets)
        out.with_suffix(".json").write_text(json.dumps(
            {"meta": meta, "chosen": state["chosen"], "rf": rf, "summary": summary, "results": results}, indent=1,
            default=str))
        plot(summary, results, rf, out.with_suffix(".png"))
