"""Pretrain the default CHMR model shipped in ``chmr_sklearn/pretrained/`` (reproducible recipe).

Structures: every molecule of the benchmark and cell-profile files in ``CHMR_DATA_HOME``
(MoleculeNet, ChEMBL2K, Broad6K, L1000 / Cell Painting tables), de-duplicated by canonical
SMILES. No label is read. Biological modalities:

* ``expression``: LINCS L1000 consensus signatures of 1,170 DrugBank compounds (978 genes);
* ``morphology``: Cell Painting profiles (U2OS, 812 features) of 162 Broad compounds;
* ``expression_cmea``: L1000 profiles (978 genes) of the same 162 compounds.

The two expression sources use different normalisations (MODZ consensus z-scores vs CMEA's
standardized values), so they stay separate modalities instead of being mixed in one table.

Usage::

    CHMR_DATA_HOME=../shared/data python scripts/pretrain_default.py --out runs/default   # the shipped model
    CHMR_DATA_HOME=../shared/data python scripts/pretrain_default.py --recipe new --epochs 10 --limit 0 --out runs/new

The defaults reproduce the shipped model: ``--recipe gentle`` (the ``"lean"`` encoder at lr 3e-4,
``chmr_sklearn.pretrain.RECIPES``), 8 epochs, 12,000 molecules (every profiled one plus a seeded
sample of the rest; ``--limit 0`` takes all ~84k). ``--recipe old`` is the first shipped model's
recipe (4 epochs on all molecules). The manifest is written atomically; an interrupted run
resumes from ``--checkpoint-dir``. ``--corpus-cache FILE`` pickles the built corpus (about 35 kB
per molecule in memory and on disk) and reuses it in later runs with the same molecules and
corpus settings, so candidates that differ only in epochs or learning rate share one build;
``--build-only`` stops after writing it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, not an installed copy

import pandas as pd  # noqa: E402
import torch  # noqa: E402

from chmr_sklearn import __version__  # noqa: E402
from chmr_sklearn._inputs import to_smiles  # noqa: E402
from chmr_sklearn._runtime import resolve_device  # noqa: E402
from chmr_sklearn.featurize._chunks import map_chunks  # noqa: E402
from chmr_sklearn.pretrain import RECIPES, PretrainConfig, PretrainCorpus, Pretrainer  # noqa: E402
from chmr_sklearn.pretrain.checkpoint import atomic_write  # noqa: E402

STRUCTURE_FILES = {
    "moleculenet/bbbp.csv.gz": "smiles", "moleculenet/bace.csv.gz": "smiles", "moleculenet/clintox.csv.gz": "smiles",
    "moleculenet/sider.csv.gz": "smiles", "moleculenet/hiv.csv.gz": "smiles", "moleculenet/tox21.csv.gz": "smiles",
    "moleculenet/toxcast.csv.gz": "smiles", "moleculenet/esol_delaney-processed.csv.gz": "smiles",
    "moleculenet/freesolv_sampl.csv.gz": "smiles", "moleculenet/lipophilicity.csv.gz": "smiles",
    "infoalign/chembl2k_structure.csv.gz": "smiles", "infoalign/chembl2k_assays.csv.gz": "smiles",
    "infoalign/broad6k_structure.csv.gz": "smiles", "infoalign/broad6k_assays.csv.gz": "smiles",
    "cell/derived_l1000_drugbank_consensus_smiles.csv.gz": "smiles",
    "cell/derived_cmea_cellpainting_162.csv.gz": "smiles",
}
PROFILE_FILES = {
    "expression": ("cell/derived_l1000_drugbank_consensus_smiles.csv.gz", ["drugbank_id", "name"]),
    "morphology": ("cell/derived_cmea_cellpainting_162.csv.gz", ["broad_id", "pert_iname"]),
    "expression_cmea": ("cell/derived_cmea_l1000_162.csv.gz", ["broad_id", "pert_iname"]),
}


def _canonical_chunk(values):
    return [to_smiles(v) for v in values]


def gather_molecules(home: Path, limit: int | None) -> list[str]:
    raw = []
    for rel, col in STRUCTURE_FILES.items():
        raw.extend(pd.read_csv(home / rel, usecols=[col])[col].tolist())
    import numpy as np

    canon = [s for chunk in map_chunks(_canonical_chunk, np.asarray(raw, dtype=object), n_jobs=-1) for s in chunk]
    unique = list(dict.fromkeys(s for s in canon if s is not None))
    print(f"{len(raw)} structure rows -> {len(unique)} unique valid molecules "
          f"({sum(s is None for s in canon)} unparsable rows skipped)")
    # Profiled molecules always stay in, also when --limit subsamples the rest.
    profiled = []
    for rel, _ in PROFILE_FILES.values():
        profiled += [to_smiles(s) for s in pd.read_csv(home / rel, usecols=["smiles"])["smiles"]]
    profiled = list(dict.fromkeys(s for s in profiled if s))
    if limit and limit < len(unique):  # None or 0: every molecule
        taken = set(profiled)  # built once: a set per element made this loop quadratic
        rest = [s for s in unique if s not in taken]
        rng = np.random.default_rng(0)
        keep = rng.choice(len(rest), size=max(0, limit - len(profiled)), replace=False)
        unique = profiled + [rest[i] for i in sorted(keep)]
        print(f"--limit {limit}: using {len(unique)} molecules (all {len(profiled)} profiled ones kept)")
    return unique


def load_profiles(home: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for name, (rel, meta) in PROFILE_FILES.items():
        out[name] = pd.read_csv(home / rel).drop(columns=meta + ["inchikey"])
    return out


#: Settings that change training, not the corpus: runs differing only in these share a cached corpus.
TRAINING_ONLY = ("max_epochs", "lr")


def corpus_key(smiles: list[str], profiles: dict[str, pd.DataFrame] | None, config: PretrainConfig) -> str:
    """What a cached corpus must match: the molecules, the profile tables and every corpus-relevant setting."""
    settings = {k: v for k, v in config.to_dict().items() if k not in TRAINING_ONLY}
    digest = hashlib.sha256(json.dumps([smiles, settings], sort_keys=True, default=str).encode())
    for name, table in sorted((profiles or {}).items()):
        digest.update(json.dumps([name, [str(c) for c in table.columns]]).encode())
        digest.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def build_corpus(smiles, profiles, config, n_jobs: int, cache: Path | None) -> tuple[PretrainCorpus, bool]:
    """Build the corpus, or load it from ``cache`` when that was built for the same key (else rebuild it).

    Returns the corpus and whether it came from the cache.
    """
    key = corpus_key(smiles, profiles, config)
    if cache is not None and cache.is_file():
        with cache.open("rb") as fh:
            saved_key, corpus = pickle.load(fh)
        if saved_key == key:
            print(f"corpus loaded from {cache}")
            return corpus, True
        print(f"{cache} holds another corpus (other molecules or settings): rebuilding it")
    corpus = PretrainCorpus.build(smiles, profiles, config, n_jobs=n_jobs, verbose=1)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cache, lambda fh: pickle.dump((key, corpus), fh, protocol=pickle.HIGHEST_PROTOCOL))
    return corpus, False


def _parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the recipe's)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="gentle",
                        help="gentle: the shipped model's settings; old: the first shipped model's; new: the options "
                             "that let scarce profiles drive learning; fast, lean: narrower encoders "
                             "(chmr_sklearn.pretrain.RECIPES)")
    parser.add_argument("--l2-sp", type=float, default=None,
                        help="pull of the molecular encoder toward its initial weights (default: the recipe's)")
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", type=PretrainConfig.parse_override,
                        help="PretrainConfig fields on top of the recipe, e.g. --set cpr_source=anchor")
    parser.add_argument("--limit", type=int, default=12000,
                        help="subsample the structures, profiled ones kept (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--out", default="chmr_sklearn/pretrained")
    parser.add_argument("--checkpoint-dir", default="runs/pretrain_default")
    parser.add_argument("--corpus-cache", type=Path, help="pickle of the built corpus, reused when it matches")
    parser.add_argument("--build-only", action="store_true", help="build (and cache) the corpus, do not train")
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> PretrainConfig:
    """The recipe, with the command line's epochs, batch size, seed, lr, l2_sp and --set fields on top."""
    return PretrainConfig(**{**RECIPES[args.recipe], "max_epochs": args.epochs, "batch_size": args.batch_size,
                             "seed": args.seed, **({} if args.lr is None else {"lr": args.lr}),
                             **({} if args.l2_sp is None else {"l2_sp": args.l2_sp}), **dict(args.set)})


def _export(trainer: Pretrainer, corpus, config: PretrainConfig, args: argparse.Namespace, featurize_s: float,
            cached: bool) -> None:
    """Write ``default.pt`` (half precision) and its manifest ``default.json`` (data, recipe, loss curves)."""
    out = Path(args.out)
    meta = {
        "chmr_sklearn": __version__, "torch": torch.__version__, "device": str(resolve_device(args.device)),
        "machine": platform.platform(), "n_molecules": len(corpus), "limit": args.limit or None, "epochs": args.epochs,
        "featurize_seconds": round(featurize_s, 1), "corpus_from_cache": cached, "recipe": args.recipe,
        "overrides": dict(args.set),
        "train_seconds": round(sum(h["seconds"] for h in trainer.history_), 1),
        "data": {"structures": sorted(STRUCTURE_FILES), "profiles": {n: r for n, (r, _) in PROFILE_FILES.items()},
                 "observed": {n: int(b.observed.sum()) for n, b in corpus.bio.items()}},
        "labels_used": False,
    }
    path = trainer.export(out / "default.pt", meta=meta, half=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    manifest = {"file": path.name, "sha256": digest, "config": config.to_dict(), **meta,
                "history": trainer.history_}
    atomic_write(out / "default.json", lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB, sha256 {digest[:12]}...)")


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    home = Path(os.environ.get("CHMR_DATA_HOME", "../shared/data"))
    torch.set_num_threads(os.cpu_count() or 1)
    tic = time.perf_counter()
    smiles = gather_molecules(home, args.limit)
    profiles = load_profiles(home)
    config = _config(args)
    corpus, cached = build_corpus(smiles, profiles, config, args.n_jobs, args.corpus_cache)
    featurize_s = time.perf_counter() - tic
    print(f"corpus: {len(corpus)} molecules, 3D ok {corpus.mol.conf_ok.mean():.1%}, "
          f"bio observed: { {n: int(b.observed.sum()) for n, b in corpus.bio.items()} }; "
          f"graph: {corpus.graph.summary() if corpus.graph is not None else None}; {featurize_s:.0f} s")
    if args.build_only:
        return
    trainer = Pretrainer(config, device=args.device, checkpoint_dir=args.checkpoint_dir, verbose=1).fit(corpus)
    _export(trainer, corpus, config, args, featurize_s, cached)


if __name__ == "__main__":
    main()
