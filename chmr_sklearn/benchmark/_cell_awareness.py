"""Cell-awareness: does pretraining make the embedding predict the cell responses of unseen compounds?

Protocol (issue 12 item 1). For each biological modality, a scaffold-grouped 20 % of the
profiled compounds is held out (``scaffold_split(smiles, (0.7, 0.1, 0.2), method="random_groups",
random_state=seed)``; held out = the test part, training = train + valid), per seed. One
pretraining per seed sees every modality's training profiles only (held-out structures stay in
the corpus, their profiles do not). From the frozen embedding of each representation a ridge
regression (standardized features, alpha by generalized cross-validation on the training
compounds) predicts the held-out profiles. The same held-out compounds are predicted by the
untrained encoder of the same architecture, ridge on the 1191 fingerprint bits, the average
profile of the 10 Tanimoto-nearest training compounds, and the training mean profile.

Metrics per modality (mean over held-out compounds, then mean and std over seeds):

* ``pearson``: per-compound Pearson r between predicted and observed profile (raw: it rewards
  predicting the response most compounds share: the training mean alone scores high);
* ``pearson_centred``: the same after subtracting the training mean profile from both;
* ``pearson_feature``: per-feature r across held-out compounds, averaged over features;
* retrieval: cosine between each centred prediction and every centred held-out profile; the
  rank of the true one gives ``mrr`` (mean reciprocal rank) and ``top5pct`` (hit within the
  top 5 %). Constant predictions (the mean profile) have no defined cosine: NaN.

Profiles are clipped to +-10 (the L1000 MODZ z-scores reach +-200), as in
``reference/cell_awareness_baselines.md``, whose baselines this harness reproduces.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..pretrain.config import RECIPES  # re-exported: the benchmark's --recipe choices

__all__ = [
    "RECIPES",
    "REPRESENTATIONS",
    "CellAwarenessPlan",
    "heldout_split",
    "load_cell_profiles",
    "merge_cell_awareness",
    "predict_baselines",
    "profile_metrics",
    "render_cell_awareness",
    "run_cell_awareness",
    "summarize_cell_awareness",
    "tanimoto_knn",
]

CLIP = 10.0
KNN = 10
ALPHAS = np.logspace(-2, 5, 15)
REPRESENTATIONS = ("pretrained_anchor", "pretrained_latents", "pretrained_concat", "random_init_anchor",
                   "random_init_latents", "random_init_concat", "fingerprint_ridge", "tanimoto_knn", "mean_profile")


@dataclass
class CellAwarenessPlan:
    """Sizes of a run: ``quick`` (seconds to a minute) or the full one (<= 40 min on 2 cores).

    Attributes
    ----------
    seeds : tuple of int
    epochs : int
    n_neighbours : int
        Structural neighbours of each profiled compound added from the structure pool.
    n_background : int
        Further downstream structures (a seeded random sample of the pool).
    max_profiled : int or None
        Keep at most this many profiled compounds per modality (quick mode).
    model : dict
        PretrainConfig overrides of the architecture (quick mode shrinks it).

    Examples
    --------
    >>> CellAwarenessPlan.make(quick=True).epochs, len(CellAwarenessPlan.make(quick=False).seeds)
    (1, 3)
    """

    seeds: tuple = (0, 1, 2)
    epochs: int = 10
    n_neighbours: int = 3
    n_background: int = 2500
    max_profiled: int | None = None
    model: dict | None = None
    pool_files: tuple | None = None  # None: every benchmark structure file (POOL_FILES)

    @classmethod
    def make(cls, quick: bool) -> CellAwarenessPlan:
        if quick:
            return cls(seeds=(0, 1), epochs=1, n_neighbours=1, n_background=100, max_profiled=200,
                       model={"latent_dim": 32, "gin_layers": 2, "batch_size": 128},
                       pool_files=("infoalign/chembl2k_structure.csv.gz",))
        return cls()


# ---- data -------------------------------------------------------------------------------------
def load_cell_profiles(data_home: str | os.PathLike | None = None, clip: float = CLIP) -> dict[str, pd.DataFrame]:
    """The three profile tables keyed by canonical SMILES, values clipped to ``+-clip``.

    ``expression``: L1000 consensus signatures of 1,170 DrugBank compounds (978 genes);
    ``morphology``: Cell Painting (812 features) and ``expression_cmea``: L1000 (978 genes) of the
    162 CMEA compounds. Each frame has a ``smiles`` column and the feature columns; a compound
    listed twice (same canonical SMILES: 21 L1000 rows) keeps its first row.

    Examples
    --------
    >>> tables = load_cell_profiles()
    >>> {name: t.shape for name, t in tables.items()}
    {'expression': (1149, 979), 'morphology': (162, 813), 'expression_cmea': (162, 979)}
    """
    from .._inputs import to_smiles
    from ..datasets import load_cmea_paired, load_l1000_drugbank

    l1000 = load_l1000_drugbank(data_home=data_home)
    cmea = load_cmea_paired(data_home=data_home)
    raw = {"expression": l1000.drop(columns=["drugbank_id", "name", "inchikey"]),
           "morphology": cmea.cell_painting.drop(columns=["broad_id", "pert_iname", "inchikey"]),
           "expression_cmea": cmea.expression.drop(columns=["broad_id", "pert_iname", "inchikey"])}
    tables = {}
    for name, frame in raw.items():
        feats = frame.drop(columns=["smiles"]).astype(np.float64).clip(-clip, clip)
        canon = pd.Series([to_smiles(s) for s in frame["smiles"]], index=frame.index, name="smiles")
        table = pd.concat([canon, feats], axis=1)
        table = table[canon.notna()].drop_duplicates("smiles").reset_index(drop=True)
        tables[name] = table
    return tables


def heldout_split(smiles: Sequence[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and held-out rows of one modality: scaffold groups, 80 / 20, as the reference.

    Examples
    --------
    >>> train, test = heldout_split(["CCO", "c1ccccc1", "c1ccccc1C", "CCN", "C1CC1"], seed=0)
    >>> sorted(np.concatenate([train, test]).tolist())
    [0, 1, 2, 3, 4]
    """
    from ..model_selection import scaffold_split

    train, valid, test = scaffold_split(list(smiles), sizes=(0.7, 0.1, 0.2), method="random_groups",
                                        random_state=seed)
    return np.sort(np.concatenate([train, valid])), np.sort(test)


POOL_FILES = ("moleculenet/bbbp.csv.gz", "moleculenet/bace.csv.gz", "moleculenet/clintox.csv.gz",
              "moleculenet/sider.csv.gz", "moleculenet/esol_delaney-processed.csv.gz",
              "moleculenet/lipophilicity.csv.gz", "moleculenet/freesolv_sampl.csv.gz",
              "infoalign/chembl2k_structure.csv.gz", "infoalign/broad6k_structure.csv.gz",
              "moleculenet/tox21.csv.gz", "moleculenet/toxcast.csv.gz", "moleculenet/hiv.csv.gz")


def _structure_pool(data_home: Path, files: Sequence[str] | None = None) -> list[str]:
    """Canonical SMILES of the benchmark structure files (what the shipped model saw), de-duplicated."""
    from .._inputs import to_smiles

    raw = []
    for rel in files or POOL_FILES:
        raw += pd.read_csv(data_home / rel, usecols=["smiles"])["smiles"].tolist()
    return list(dict.fromkeys(s for s in (to_smiles(v) for v in raw) if s is not None))


def corpus_smiles(profiled: Sequence[str], pool: Sequence[str], plan: CellAwarenessPlan,
                  fp_bits: int = 1024) -> list[str]:
    """Profiled compounds + their nearest pool structures + a seeded sample of the pool.

    Examples
    --------
    >>> plan = CellAwarenessPlan(n_neighbours=1, n_background=1)
    >>> corpus_smiles(["CCO"], ["CCCO", "c1ccccc1", "CCO"], plan)
    ['CCO', 'CCCO', 'c1ccccc1']
    """
    from ..featurize import FingerprintFeaturizer

    profiled = list(dict.fromkeys(profiled))
    taken = set(profiled)
    rest = [s for s in pool if s not in taken]
    chosen: list[str] = []
    if rest and plan.n_neighbours > 0:
        featurize = FingerprintFeaturizer(radius=2, n_bits=fp_bits, maccs=False)
        q = featurize.transform(profiled).astype(np.float32)
        p = featurize.transform(rest).astype(np.float32)
        qn, pn = q.sum(axis=1), p.sum(axis=1)
        k = min(plan.n_neighbours, len(rest))
        near = []
        for i0 in range(0, len(q), 1024):  # Tanimoto of each profiled compound to the whole pool
            inter = q[i0:i0 + 1024] @ p.T
            sim = inter / np.maximum(qn[i0:i0 + 1024, None] + pn[None, :] - inter, 1e-9)
            near.append(np.argpartition(-sim, k - 1, axis=1)[:, :k])
        chosen = [rest[j] for j in dict.fromkeys(np.concatenate(near).ravel().tolist())]
    left = [s for s in rest if s not in set(chosen)]
    rng = np.random.default_rng(0)
    background = [left[j] for j in sorted(rng.choice(len(left), size=min(plan.n_background, len(left)),
                                                    replace=False))] if left else []
    return profiled + chosen + background


# ---- predictions and metrics -------------------------------------------------------------------
def _tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.astype(np.float32), b.astype(np.float32)
    inter = a @ b.T
    return inter / np.maximum(a.sum(1)[:, None] + b.sum(1)[None, :] - inter, 1e-9)


def _ridge(train_x: np.ndarray, y: np.ndarray, test_x: np.ndarray, scale: bool) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=ALPHAS)) if scale else RidgeCV(alphas=ALPHAS)
    model.fit(train_x, y)
    return model.predict(test_x), float(model[-1].alpha_ if scale else model.alpha_)


def predict_baselines(fp_train: np.ndarray, y_train: np.ndarray, fp_test: np.ndarray) -> dict[str, np.ndarray]:
    """Structure-only predictions: ridge on the fingerprint bits (alpha by GCV), the Tanimoto-weighted
    mean of the 10 nearest training compounds, and the training mean.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fp = rng.random((30, 16)) > 0.5
    >>> preds = predict_baselines(fp[:20], rng.normal(size=(20, 3)), fp[20:])
    >>> sorted(preds), preds["tanimoto_knn"].shape
    (['fingerprint_ridge', 'mean_profile', 'tanimoto_knn'], (10, 3))
    """
    ridge, _ = _ridge(fp_train.astype(np.float64), y_train, fp_test.astype(np.float64), scale=False)
    return {"fingerprint_ridge": ridge, "tanimoto_knn": tanimoto_knn(fp_train, y_train, fp_test),
            "mean_profile": np.repeat(y_train.mean(axis=0, keepdims=True), len(fp_test), axis=0)}


def tanimoto_knn(fp_train: np.ndarray, y_train: np.ndarray, fp_test: np.ndarray, k: int = KNN) -> np.ndarray:
    """Tanimoto-similarity-weighted mean profile of the ``k`` nearest training compounds (on the
    fingerprint bits): with ``k=10``, what reproduces the reference's ``tanimoto_knn10``.

    Examples
    --------
    >>> fp = np.array([[1, 1, 0], [0, 0, 1], [1, 1, 1]])
    >>> tanimoto_knn(fp[:2], np.array([[1.0], [3.0]]), fp[2:], k=1)
    array([[1.]])
    """
    sim = _tanimoto(fp_test > 0, fp_train > 0)
    k = min(k, len(fp_train))
    near = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    w = np.maximum(np.take_along_axis(sim, near, axis=1), 1e-6)[..., None]
    return (y_train[near] * w).sum(axis=1) / w.sum(axis=1)


def _rowwise_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(den > 1e-12, (a * b).sum(axis=1) / np.where(den > 1e-12, den, 1.0), 0.0)


def profile_metrics(pred: np.ndarray, obs: np.ndarray, train_mean: np.ndarray) -> dict[str, float]:
    """Per-compound r (raw and centred), per-feature r, and retrieval MRR / top-5 % of held-out profiles.

    A constant prediction has r = 0 and no retrieval rank (NaN).

    Examples
    --------
    >>> obs = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, 0.5], [2.0, 2.0, 0.0]])
    >>> m = profile_metrics(obs, obs, obs.mean(axis=0))
    >>> m["pearson"], m["mrr"], m["top5pct"]
    (1.0, 1.0, 1.0)
    """
    pred, obs = np.asarray(pred, np.float64), np.asarray(obs, np.float64)
    pc, oc = pred - train_mean, obs - train_mean
    out = {"pearson": float(_rowwise_r(pred, obs).mean()), "pearson_centred": float(_rowwise_r(pc, oc).mean()),
           "pearson_feature": float(_rowwise_r(pred.T, obs.T).mean())}
    pn = np.linalg.norm(pc, axis=1)
    if (pn < 1e-12).all():
        out.update(mrr=math.nan, top5pct=math.nan)
        return out
    cos = (pc / np.maximum(pn, 1e-12)[:, None]) @ (oc / np.maximum(np.linalg.norm(oc, axis=1), 1e-12)[:, None]).T
    rank = 1 + (cos > np.diag(cos)[:, None]).sum(axis=1)  # ties count in the prediction's favour
    out.update(mrr=float((1.0 / rank).mean()), top5pct=float((rank <= max(1, math.ceil(0.05 * len(obs)))).mean()))
    return out


# ---- embeddings ------------------------------------------------------------------------------------
def _embed(model, corpus, rows: np.ndarray, batch: int = 512) -> dict[str, np.ndarray]:
    """Frozen (eval-mode) anchor, latents [z1d; z2d; z3d] and concat [fp; latents] of corpus rows."""
    import torch

    model.eval()
    parts: dict[str, list] = {"anchor": [], "latents": []}
    with torch.no_grad():
        for i0 in range(0, len(rows), batch):
            idx = rows[i0:i0 + batch]
            z = model.encode(**corpus.mol.torch_batch(idx, "cpu"))
            parts["anchor"].append(model.anchor(z).numpy())
            parts["latents"].append(torch.cat([z[m] for m in model.molecular_modalities], dim=1).numpy())
    out = {k: np.concatenate(v).astype(np.float64) for k, v in parts.items()}
    out["concat"] = np.concatenate([corpus.mol.fp[rows].astype(np.float64), out["latents"]], axis=1)
    return out


# ---- the run ---------------------------------------------------------------------------------------
def _pretrain_seed(smiles, tables, splits, seed, config, molecular, work: Path, log, device: str = "cpu"):
    """Pretrain (or resume / reload) the model of one seed on the training profiles only."""
    from ..pretrain import PretrainCorpus, Pretrainer

    train_tables = {name: tables[name].iloc[splits[name][0]] for name in tables}
    corpus = PretrainCorpus.build(smiles, train_tables, config, molecular=molecular)
    tic = time.perf_counter()
    trainer = Pretrainer(config, device=device, checkpoint_dir=work / "checkpoint", verbose=0).fit(corpus)
    trainer.model_.cpu()  # the evaluation embeds on the CPU, whatever device trained
    trainer.export(work / "model.pt", meta={"seed": seed, "corpus_fingerprint": corpus.fingerprint(),
                                            "heldout": {n: len(splits[n][1]) for n in splits}})
    log(f"seed {seed}: pretrained {len(trainer.history_)} epochs on {len(corpus)} molecules "
        f"({time.perf_counter() - tic:.0f} s this run); losses "
        + " -> ".join(f"{h['loss']:.3f}" for h in trainer.history_))
    return trainer, corpus


def _evaluate_seed(trainer, corpus, tables, splits, seed, index) -> dict[str, dict[str, dict[str, float]]]:
    import torch

    from ..pretrain.checkpoint import build_model, encoder_spec

    random_model = build_model(encoder_spec(trainer.spec_), generator=torch.Generator().manual_seed(seed))
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, table in tables.items():
        rows = np.array([index[s] for s in table["smiles"]])
        y = table.drop(columns=["smiles"]).to_numpy(np.float64)
        tr, te = splits[name]
        mean = y[tr].mean(axis=0)
        preds = predict_baselines(corpus.mol.fp[rows[tr]], y[tr], corpus.mol.fp[rows[te]])
        for label, model in (("pretrained", trainer.model_), ("random_init", random_model)):
            emb = _embed(model, corpus, rows)
            for kind, x in emb.items():
                preds[f"{label}_{kind}"], _ = _ridge(x[tr], y[tr], x[te], scale=True)
        out[name] = {rep: profile_metrics(preds[rep], y[te], mean) for rep in REPRESENTATIONS}
    return out


def summarize_cell_awareness(per_seed: Sequence[dict]) -> dict:
    """Mean and std over seeds, in the JSON layout of the issue (plus the centred and per-feature r).

    Examples
    --------
    >>> one = {"expression": {"mean_profile": {"pearson": 0.3, "pearson_centred": 0.0, "pearson_feature": 0.0,
    ...                                        "mrr": float("nan"), "top5pct": float("nan")}}}
    >>> summarize_cell_awareness([one, one])["expression"]["mean_profile"]["pearson_mean"]
    0.3
    """
    summary: dict = {}
    for modality in per_seed[0]:
        summary[modality] = {}
        for rep in per_seed[0][modality]:
            values = {k: np.array([run[modality][rep][k] for run in per_seed]) for k in per_seed[0][modality][rep]}
            entry = {}
            for key, arr in values.items():
                entry[f"{key}_mean"] = float(np.mean(arr))
                entry[f"{key}_std"] = float(np.std(arr))
            summary[modality][rep] = entry
    return summary


def _target_lines(summary: dict, modality: str = "expression") -> list[str]:
    """Issue 12's target: pretrained_anchor beats each competitor by more than 2 std over seeds."""
    needed = ("pretrained_anchor", "random_init_anchor", "fingerprint_ridge", "tanimoto_knn")
    if modality not in summary or any(rep not in summary[modality] for rep in needed):
        return []
    res = summary[modality]
    me = res["pretrained_anchor"]
    lines = [f"Target ({modality}): `pretrained_anchor` beats each competitor by more than 2 std over seeds "
             "(std = the larger of the two):", ""]
    for rival in ("random_init_anchor", "fingerprint_ridge", "tanimoto_knn"):
        for key in ("pearson", "pearson_centred", "mrr"):
            diff = me[f"{key}_mean"] - res[rival][f"{key}_mean"]
            need = 2 * max(me[f"{key}_std"], res[rival][f"{key}_std"])
            ok = "met" if diff > need else "NOT met"
            lines.append(f"- vs `{rival}`, {key}: {diff:+.3f} (needs > {need:.3f}): **{ok}**")
    return lines


def render_cell_awareness(summary: dict, meta: dict) -> str:
    """The Markdown report: one table per modality, the target check, settings and machine.

    Examples
    --------
    >>> s = {"expression": {"mean_profile": {k: 0.0 for k in ("pearson_mean", "pearson_std", "pearson_centred_mean",
    ...      "pearson_centred_std", "pearson_feature_mean", "pearson_feature_std", "mrr_mean", "mrr_std",
    ...      "top5pct_mean", "top5pct_std")}}}
    >>> render_cell_awareness(s, {"recipe": "new"}).splitlines()[0]
    '# Cell-awareness: held-out cell profiles predicted from the frozen embedding'
    """
    lines = ["# Cell-awareness: held-out cell profiles predicted from the frozen embedding", "",
             f"Recipe `{meta.get('recipe')}`{_overrides_text(meta.get('overrides'))}, {meta.get('mode', '')} mode; "
             f"seeds {meta.get('seeds')}; "
             f"{meta.get('epochs')} epochs on {meta.get('n_molecules')} molecules. Protocol: "
             "`chmr_sklearn/benchmark/_cell_awareness.py` (scaffold-grouped 20 % of each modality's profiled "
             "compounds held out per seed and removed from pretraining; ridge, alpha by GCV, on the frozen "
             "embedding). Mean ± std over seeds; r = Pearson. The raw per-compound r rewards predicting the "
             "common response (the training mean alone scores high): read the centred r and retrieval.", ""]
    for modality, res in summary.items():
        n = meta.get("heldout", {}).get(modality)
        lines += [f"## {modality}" + (f" ({n} held-out compounds per seed)" if n else ""), "",
                  "| representation | per-compound r (raw) | per-compound r (centred) | per-feature r | MRR | top-5 % |",
                  "|---|---:|---:|---:|---:|---:|"]
        for rep, e in res.items():
            cells = [f"{e[f'{k}_mean']:.3f} ± {e[f'{k}_std']:.3f}" for k in ("pearson", "pearson_centred")]
            cells.append(f"{e['pearson_feature_mean']:.3f}")
            cells.append(f"{e['mrr_mean']:.3f} ± {e['mrr_std']:.3f}")
            cells.append(f"{e['top5pct_mean']:.3f}")
            lines.append(f"| {rep} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += _target_lines(summary) + [""]
    lines += ["## Run", "", f"- config: `{json.dumps(meta.get('config', {}))}`",
              f"- wall time: {meta.get('wall_seconds', 0):.0f} s; per stage: {meta.get('stages')}",
              f"- machine: {meta.get('machine')}", f"- load average at the end: {meta.get('load_end')}",
              f"- command: `{meta.get('command')}`", ""]
    return "\n".join(lines)


def _overrides_text(overrides: dict | None) -> str:
    return "".join(f" + `{k}={v}`" for k, v in sorted((overrides or {}).items()))


def _plot(summary: dict, histories: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mods = list(summary)
    fig, axes = plt.subplots(1, len(mods) + 1, figsize=(5 * (len(mods) + 1), 4))
    for ax, mod in zip(axes, mods):
        reps = list(summary[mod])
        for j, key in enumerate(("pearson_centred", "mrr")):
            vals = [summary[mod][r][f"{key}_mean"] for r in reps]
            errs = [summary[mod][r][f"{key}_std"] for r in reps]
            ax.barh(np.arange(len(reps)) + 0.4 * j, vals, 0.4, xerr=errs, label=key)
        ax.set_yticks(np.arange(len(reps)) + 0.2, reps, fontsize=7)
        ax.set_title(mod)
        ax.legend(fontsize=7)
    for seed, hist in histories.items():
        axes[-1].plot([h["epoch"] for h in hist], [h["loss"] for h in hist], marker="o", label=f"seed {seed}")
    axes[-1].set_xlabel("epoch")
    axes[-1].set_title("pretraining loss")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_cell_awareness(*, quick: bool, recipe: str, work_dir: str | os.PathLike, out: str | os.PathLike,
                       data_home: str | os.PathLike | None = None, command: str = "",
                       log: Callable[[str], None] = print, device: str = "cpu", n_jobs: int = -1,
                       overrides: dict[str, Any] | None = None, **plan_overrides: Any) -> dict:
    """Run the benchmark; writes ``<out>.md``, ``<out>.json`` (the summary), ``<out>.meta.json`` and ``<out>.png``.

    Per-seed pretrainings live in ``work_dir/<recipe>_<epochs>ep/seed<k>/`` (``checkpoint/last.pt`` after
    every epoch, ``model.pt`` when done): rerunning the same command resumes a stopped run.
    ``plan_overrides`` (``epochs``, ``n_neighbours``, ``n_background``, ``seeds``) change the
    :class:`CellAwarenessPlan` of the mode. ``device`` trains there (``"cuda"``, ``"auto"``); the
    evaluation always runs on the CPU. ``n_jobs``: featurization workers. ``overrides``:
    :class:`~chmr_sklearn.pretrain.PretrainConfig` fields set on top of the recipe (e.g.
    ``{"cpr_source": "anchor"}``); they name the checkpoint folder and the report.

    Returns
    -------
    dict
        The summary (``{modality: {representation: {metric_mean, metric_std}}}``).
    """
    from ..datasets import get_data_home
    from ..featurize.molecular import featurize_molecular
    from ..pretrain import PretrainConfig
    from ._machine import load_average, machine_info

    overrides = dict(overrides or {})
    planned = sorted({"max_epochs", "seed"} & set(overrides))
    if planned:  # the plan sets them per run and per seed: an override would be silently replaced
        raise ValueError(f"Set {planned} with epochs= / seeds= (--epochs / --seeds), not as config overrides.")
    t0 = time.perf_counter()
    plan = CellAwarenessPlan.make(quick)
    for key, value in plan_overrides.items():
        if value is not None:
            setattr(plan, key, tuple(value) if key == "seeds" else value)
    machine = machine_info()
    tables, profiled, smiles = _corpus(get_data_home(data_home), plan, log)
    stages = {"corpus": round(time.perf_counter() - t0, 1)}

    config = PretrainConfig(**{**RECIPES[recipe], **(plan.model or {}), **overrides, "max_epochs": plan.epochs})
    tic = time.perf_counter()
    molecular = featurize_molecular(smiles, **config.featurization(), random_state=0, n_jobs=n_jobs)
    if not molecular[0].valid.all():
        raise RuntimeError("every corpus molecule must featurize (they were canonicalized before)")
    stages["featurize"] = round(time.perf_counter() - tic, 1)

    folder = Path(work_dir) / run_name(recipe, plan.epochs, overrides)
    per_seed, histories, heldout = _run_seeds(plan, tables, smiles, config, molecular, folder, stages, log, device)
    summary = summarize_cell_awareness(per_seed)
    meta = {"recipe": recipe, "overrides": overrides, "mode": "quick" if quick else "full", "seeds": list(plan.seeds),
            "device": device,
            "epochs": plan.epochs, "n_molecules": len(smiles), "n_profiled": len(set(profiled)),
            "heldout": heldout, "config": config.to_dict(), "stages": stages, "machine": machine,
            "load_end": load_average(), "wall_seconds": time.perf_counter() - t0, "command": command,
            "histories": {str(k): v for k, v in histories.items()}, "per_seed": per_seed}
    _write_report(summary, meta, histories, out)
    return summary


def _corpus(home: Path, plan: CellAwarenessPlan, log: Callable[[str], None]) -> tuple[dict, list, list]:
    """The profile tables (cut to ``plan.max_profiled``), the profiled SMILES and the pretraining corpus."""
    tables = load_cell_profiles(home)
    if plan.max_profiled:
        tables = {n: t.iloc[: plan.max_profiled].reset_index(drop=True) for n, t in tables.items()}
    profiled = [s for t in tables.values() for s in t["smiles"]]
    pool = _structure_pool(home, plan.pool_files)
    smiles = corpus_smiles(profiled, pool, plan)
    log(f"corpus: {len(smiles)} molecules ({len(set(profiled))} profiled; pool {len(pool)})")
    return tables, profiled, smiles


def _run_seeds(plan, tables, smiles, config, molecular, folder: Path, stages: dict, log, device) -> tuple:
    """Per seed: hold out each modality's compounds, pretrain without them (resumable in ``folder``), evaluate.

    Returns the per-seed results, each seed's loss history and the held-out count per modality;
    ``stages`` gets each seed's pretraining and evaluation seconds.
    """
    from ..pretrain import PretrainConfig

    index = {s: i for i, s in enumerate(smiles)}
    per_seed, histories, heldout = [], {}, {}
    for seed in plan.seeds:
        splits = {name: heldout_split(t["smiles"], seed) for name, t in tables.items()}
        heldout = {n: len(s[1]) for n, s in splits.items()}
        cfg = PretrainConfig(**{**config.to_dict(), "seed": seed})
        tic = time.perf_counter()
        trainer, corpus = _pretrain_seed(smiles, tables, splits, seed, cfg, molecular, folder / f"seed{seed}",
                                         log, device)
        stages[f"pretrain_seed{seed}"] = round(time.perf_counter() - tic, 1)
        if seed == plan.seeds[0]:
            per_epoch = np.mean([h["seconds"] for h in trainer.history_]) if trainer.history_ else 0.0
            log(f"{per_epoch:.0f} s per epoch: {len(plan.seeds)} seeds x {plan.epochs} epochs need about "
                f"{len(plan.seeds) * plan.epochs * per_epoch / 60:.0f} min of training")
        tic = time.perf_counter()
        per_seed.append(_evaluate_seed(trainer, corpus, tables, splits, seed, index))
        stages[f"evaluate_seed{seed}"] = round(time.perf_counter() - tic, 1)
        histories[seed] = trainer.history_
    return per_seed, histories, heldout


def run_name(recipe: str, epochs: int, overrides: dict[str, Any] | None = None) -> str:
    """The checkpoint folder of a recipe, its epochs and config overrides (so runs never share one).

    Examples
    --------
    >>> run_name("gentle", 10), run_name("gentle", 10, {"cpr_source": "anchor", "lambda_sca": 1.0})
    ('gentle_10ep', 'gentle_10ep_cpr_source-anchor_lambda_sca-1.0')
    """
    return "_".join([f"{recipe}_{epochs}ep", *(f"{k}-{v}" for k, v in sorted((overrides or {}).items()))])


def _write_report(summary: dict, meta: dict, histories: dict, out: str | os.PathLike) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(summary, indent=1))
    Path(f"{out}.meta.json").write_text(json.dumps(meta, indent=1, default=str))
    Path(f"{out}.md").write_text(render_cell_awareness(summary, meta))
    _plot(summary, histories, Path(f"{out}.png"))


def merge_cell_awareness(meta_paths: Sequence[str | os.PathLike], out: str | os.PathLike, command: str = "") -> dict:
    """One report from runs of the same recipe and plan on other seeds (e.g. one process per seed).

    Reads each run's ``<prefix>.meta.json``, pools their per-seed results (a seed may appear once)
    and writes ``<out>.{md,json,meta.json,png}`` as :func:`run_cell_awareness` would have.

    Raises
    ------
    ValueError
        If the runs differ in recipe, epochs, corpus size or configuration (apart from the seed),
        or repeat a seed.
    """
    # runs made before overrides existed have none: the same plan as ``{}``
    metas = [json.loads(Path(p).read_text()) for p in meta_paths]
    metas = [{**m, "overrides": m.get("overrides") or {}} for m in metas]
    keys = ("recipe", "overrides", "mode", "epochs", "n_molecules", "n_profiled")
    first = metas[0]
    for path, meta in zip(meta_paths, metas):
        same_config = {**meta["config"], "seed": 0} == {**first["config"], "seed": 0}
        if any(meta.get(k) != first.get(k) for k in keys) or not same_config:
            differ = [f"{k}={meta.get(k)!r} vs {first.get(k)!r}" for k in keys if meta.get(k) != first.get(k)]
            raise ValueError(f"{path} is another plan than {meta_paths[0]}: "
                             + ", ".join(differ + ([] if same_config else ["another config (beyond the seed)"])))
    seeds = [s for m in metas for s in m["seeds"]]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"The runs repeat a seed: {seeds}.")
    per_seed = [r for m in metas for r in m["per_seed"]]
    histories = {k: v for m in metas for k, v in m["histories"].items()}
    merged = {**first, "seeds": seeds, "per_seed": per_seed, "histories": histories, "command": command,
              "stages": {k: v for m in metas for k, v in m["stages"].items()},
              "wall_seconds": max(m["wall_seconds"] for m in metas),
              "merged_from": [str(p) for p in meta_paths]}
    summary = summarize_cell_awareness(per_seed)
    _write_report(summary, merged, histories, out)
    return summary
