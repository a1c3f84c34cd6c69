"""CHMR embedding speed at default settings, side by side with its references in one run.

Not a test: a measurement on real molecules (RDKit's ``wehi_mols.csv``) written to
``benchmarks/results/embed.md`` (full mode) and printed. In one process, in this order:

1. **Reference**: a plain single-core RDKit loop computing the same 1191 fingerprint bits
   (Morgan r2 1024 + MACCS 167); every rate below is also given as a ratio to it.
2. **CHMR cold**: ``CHMRTransformer().fit(X).transform(X)`` at default settings, a fresh
   instance each time: as the process's first call and again (on Linux the worker processes
   are forked inside every call; elsewhere joblib's start inside the first and keep running);
   then ``n_jobs=1`` and ``precision="float64"``.
3. **chemprop 2.3.1**: its default D-MPNN (``BondMessagePassing`` + mean aggregation, untrained
   weights: speed only) featurizing and encoding the same molecules, all torch threads.
4. **Cached**: the same X again on a warm transformer.
5. **Consistency**: float32 (default) vs float64 embeddings, max relative difference.
6. **Start-up**: a fresh ``python -c "from chmr_sklearn import CHMRTransformer;
   CHMRTransformer().fit_transform(['CCO'])"``, against ``python -c "import torch"`` (with and
   without the interpreter's teardown at exit), ``python -c "import torch, sklearn.base"`` and
   ``chmr --help`` (best of 3 wall-clock runs each).
7. **Pretraining**: ``PretrainCorpus.build`` (``n_jobs=-1``, as ``chmr pretrain`` runs it) +
   ``Pretrainer.fit`` for a few epochs on WEHI molecules + the 162 real Cell Painting profiles;
   molecules per second per epoch.

Wall-clock times; the load average at start and end is recorded: run it on a quiet machine.

Usage::

    python benchmarks/embed.py            # full: 10,000 molecules, 2,000 + 162 pretraining, 2 epochs
    python benchmarks/embed.py --quick    # 600 molecules, 300 + 162, 1 epoch; prints only
    python benchmarks/embed.py --compare fast=runs/fast_default/default.pt   # + another encoder, same run
    python benchmarks/embed.py --no-chemprop --output benchmarks/results/embed_current_rdkit.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import torch  # noqa: E402

from _reference import load_smiles, plain_fingerprints  # noqa: E402  (benchmarks/_reference.py)
from chmr_sklearn import CHMRTransformer  # noqa: E402
from chmr_sklearn.benchmark._machine import describe_versions, load_average, machine_info  # noqa: E402
from chmr_sklearn.benchmark._selection import parse_candidates  # noqa: E402
from chmr_sklearn.estimators._engine import effective_workers  # noqa: E402
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "embed.md"
DATA_HOME = Path(os.environ.get("CHMR_DATA_HOME", "/work/shared/data"))
CMEA = DATA_HOME / "cell" / "derived_cmea_cellpainting_162.csv.gz"
STARTUP = "from chmr_sklearn import CHMRTransformer; CHMRTransformer().fit_transform(['CCO'])"


def timed(func):
    tic = time.perf_counter()
    result = func()
    return result, time.perf_counter() - tic


def best_of(func, repeats: int) -> tuple:
    """(result of the last run, best wall time): the least disturbed run on a shared machine."""
    runs = [timed(func) for _ in range(repeats)]
    return runs[-1][0], min(s for _, s in runs)


def machine_lines(n: int, quick: bool, with_chemprop: bool = True) -> list[str]:
    chemprop = f", chemprop {__import__('chemprop').__version__}" if with_chemprop else ""
    m = machine_info()
    return [
        f"- date: {m['date']}{' (--quick)' if quick else ''}",
        f"- machine: {m['cores']} logical cores, {m['cpu']}; torch intra-op threads "
        f"{torch.get_num_threads()} (so `n_jobs=None` → {effective_workers(None)} worker processes); "
        f"load average at start {m['load_start']}",
        f"- {describe_versions(m)}{chemprop}",
        f"- data: the first {n:,} of RDKit's 10,000 `Pains/test_data/wehi_mols.csv` SMILES",
    ]


# ---- the measured runs ---------------------------------------------------------------------------
def chmr_cold(smiles, **params):
    """A fresh transformer, empty cache: fit + transform."""
    return CHMRTransformer(**params).fit(smiles).transform(smiles)


def chemprop_encode(smiles, batch_size: int = 512) -> np.ndarray:
    """chemprop's default D-MPNN: featurize (inside the loader) + message passing + mean pooling."""
    from chemprop import data, featurizers, models, nn

    points = [data.MoleculeDatapoint.from_smi(s) for s in smiles]
    dataset = data.MoleculeDataset(points, featurizers.SimpleMoleculeMolGraphFeaturizer())
    loader = data.build_dataloader(dataset, batch_size=batch_size, num_workers=0, shuffle=False)
    model = models.MPNN(nn.BondMessagePassing(), nn.MeanAggregation(), nn.RegressionFFN()).eval()
    with torch.no_grad():
        return torch.cat([model.fingerprint(batch.bmg) for batch in loader]).numpy()


def startup_seconds(argv: list[str], repeats: int = 3) -> float:
    return min(timed(lambda: subprocess.run(argv, check=True, capture_output=True))[1] for _ in range(repeats))


def pretrain_rates(smiles, n_mol: int, epochs: int, recipe: str | None = None) -> dict:
    """Corpus build and per-epoch seconds at ``PretrainConfig()``'s defaults or a named recipe's."""
    import pandas as pd

    from chmr_sklearn.pretrain import RECIPES, PretrainConfig, PretrainCorpus, Pretrainer

    profiles, mols = None, list(smiles[:n_mol])
    if CMEA.is_file():
        table = pd.read_csv(CMEA).drop(columns=["broad_id", "pert_iname", "inchikey"])
        profiles, mols = {"morphology": table}, mols + table["smiles"].tolist()
    config = PretrainConfig(**{**(RECIPES[recipe] if recipe else {}), "max_epochs": epochs, "batch_size": 512})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus, build = timed(lambda: PretrainCorpus.build(mols, profiles, config, on_invalid="nan", n_jobs=-1))
        trainer = Pretrainer(config, verbose=0).fit(corpus)
    return {"n": len(corpus), "build": build, "epochs": [h["seconds"] for h in trainer.history_],
            "profiles": profiles is not None, "recipe": recipe}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    """Max over entries of |a - b| relative to the row's largest magnitude (the tests' measure)."""
    scale = np.maximum(np.abs(b).max(axis=1, keepdims=True), 1e-12)
    return float((np.abs(a.astype(np.float64) - b) / scale).max())


# ---- report --------------------------------------------------------------------------------------
def speed_table(n: int, ref_s: float, rows: list[tuple[str, float]]) -> list[str]:
    out = ["| run | s | mol/s | ÷ plain fingerprint loop |", "|---|---:|---:|---:|",
           f"| plain RDKit fingerprint loop, 1 core (reference) | {ref_s:.2f} | {n / ref_s:,.0f} | 1.00 |"]
    out += [f"| {label} | {s:.2f} | {n / s:,.0f} | **{ref_s / s:.3f}** |" for label, s in rows]
    return out


def run(n: int, n_pre: int, epochs: int, repeats: int, quick: bool, compare: dict | None = None,
        with_chemprop: bool = True) -> list[str]:
    smiles = load_smiles()
    X = smiles[:n]
    title = "vs a plain fingerprint loop and chemprop" if with_chemprop else \
        "vs a plain fingerprint loop (no chemprop in this run)"
    lines = [f"# CHMR embedding speed (default settings) {title}", "", *machine_lines(n, quick, with_chemprop), ""]
    print("\n".join(lines), flush=True)
    ref, ref_s = best_of(lambda: plain_fingerprints(X), repeats)
    emb, first_s = timed(lambda: chmr_cold(X))  # worker processes start inside this call
    np.testing.assert_array_equal(emb[:, :1191], ref)  # the fingerprint block is the reference's output
    _, warm_s = best_of(lambda: chmr_cold(X), repeats)
    _, one_s = best_of(lambda: chmr_cold(X, n_jobs=1), repeats)
    exact, f64_s = best_of(lambda: chmr_cold(X, precision="float64"), 1)
    chemprop_s = best_of(lambda: chemprop_encode(X), repeats)[1] if with_chemprop else None
    warm = CHMRTransformer().fit(X)
    warm.transform(X)
    _, cached_s = best_of(lambda: warm.transform(X), 3)
    rows = [("CHMRTransformer() default, first call of the process", first_s),
            (f"CHMRTransformer() default, later calls (best of {repeats})", warm_s),
            ("CHMRTransformer(n_jobs=1): featurization 1 core, encoder on all torch threads", one_s),
            ('CHMRTransformer(precision="float64") (bit-exact mode)', f64_s),
            ("CHMRTransformer() cached (same X again)", cached_s)]
    if with_chemprop:
        rows.insert(4, (f"chemprop {__import__('chemprop').__version__} D-MPNN featurize + encode, "
                        f"{torch.get_num_threads()} torch threads", chemprop_s))
    for name, path in (compare or {}).items():  # other encoders, same molecules and run
        _, other_s = best_of(lambda: chmr_cold(X, pretrained=str(path)), repeats)
        rows.append((f"CHMRTransformer(pretrained={name}) (`{path}`), later calls", other_s))
    lines += ["## Embedding throughput (one run, same molecules)", "", *speed_table(n, ref_s, rows), "",
              f"float32 (default) vs float64 embeddings: max relative difference {relative(emb, exact):.1e} "
              "(documented tolerance 1e-5).", ""]
    print("\n".join(lines[-len(rows) - 6:]), flush=True)
    torch_s = startup_seconds([sys.executable, "-c", "import torch"])
    bare_s = startup_seconds([sys.executable, "-c", "import torch, os; os._exit(0)"])
    floor_s = startup_seconds([sys.executable, "-c", "import torch, sklearn.base"])
    chmr_s = startup_seconds([sys.executable, "-c", STARTUP])
    help_s = startup_seconds([sys.executable, "-m", "chmr_sklearn", "--help"])
    lines += ["## Start-up (fresh processes, best of 3)", "", "| command | s |", "|---|---:|",
              f'| `python -c "{STARTUP}"` | **{chmr_s:.2f}** |',
              f'| `python -c "import torch"` | {torch_s:.2f} |',
              (f'| `python -c "import torch, sklearn.base"` (the floor of any scikit-learn estimator on torch) | '
               f"{floor_s:.2f} |"),
              f"| `python -m chmr_sklearn --help` | {help_s:.2f} |",
              f'| `python -c "import torch, os; os._exit(0)"` (no teardown at exit) | {bare_s:.2f} |', "",
              (f"Every wall time includes the interpreter's teardown at exit: {torch_s - bare_s:.2f} s of "
               "`import torch`'s is spent after its last line."), ""]
    print("\n".join(lines[-12:]), flush=True)
    for recipe in dict.fromkeys((None, shipped_recipe())):  # defaults, then the shipped recipe if named
        pre = pretrain_rates(smiles, n_pre, epochs, recipe)
        lines += pretrain_lines(pre, epochs)
        print("\n".join(lines[-len(pre["epochs"]) - 7:]), flush=True)
    return [*lines, f"- load average at the end: {load_average()}", ""]


def shipped_recipe() -> str | None:
    """The named recipe the shipped model was pretrained with (its manifest), if any."""
    import json

    return json.loads(DEFAULT_MODEL.with_suffix(".json").read_text()).get("recipe")


def pretrain_lines(pre: dict, epochs: int) -> list[str]:
    source = f"{pre['n']:,} molecules (WEHI" + (" + the 162 with real Cell Painting profiles)" if pre["profiles"]
                                                else ", no profiles found)")
    settings = f"**RECIPES[{pre['recipe']!r}], " if pre["recipe"] else ""
    title = f"the shipped model's recipe {pre['recipe']!r}" if pre["recipe"] else "PretrainConfig() defaults"
    out = [f"## Pretraining throughput, {title} ({source})", "",
           f"`PretrainCorpus.build(..., n_jobs=-1)` (featurized once on every core, reused by every epoch) then "
           f"`Pretrainer(PretrainConfig({settings}max_epochs={epochs}, batch_size=512)).fit`, all losses on.", "",
           "| step | s | molecules/s |", "|---|---:|---:|",
           f"| corpus build (featurize + propagate + context graph) | {pre['build']:.1f} | "
           f"{pre['n'] / pre['build']:,.0f} |"]
    out += [f"| epoch {i + 1} | {s:.1f} | **{pre['n'] / s:,.0f}** |" for i, s in enumerate(pre["epochs"])]
    return [*out, ""]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="600 molecules, 300 + 162 pretraining, 1 epoch")
    parser.add_argument("--output", type=Path, default=None, help=f"markdown file (default: results/{RESULTS.name}; "
                        "--quick writes none unless given)")
    parser.add_argument("--compare", action="append", default=[], metavar="NAME=PATH",
                        help="also time CHMRTransformer(pretrained=PATH) on the same molecules (repeatable)")
    parser.add_argument("--no-chemprop", action="store_true",
                        help="leave chemprop out (its cuik_molmaker extension pins RDKit 2026.03: this measures "
                             "on whatever RDKit is installed)")
    args = parser.parse_args(argv)
    compare = parse_candidates(args.compare) if args.compare else {}  # name=path, checked
    n, n_pre, epochs, repeats = (600, 300, 1, 1) if args.quick else (10_000, 2_000, 2, 2)
    text = "\n".join(run(n, n_pre, epochs, repeats, args.quick, compare, with_chemprop=not args.no_chemprop))
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        output.write_text(text)
        print(f"wrote {output}")


if __name__ == "__main__":
    main()
