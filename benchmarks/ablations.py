"""Ablations of CHMR pretraining, like the paper's table (reference §3.3), on a CPU budget.

Not a test: a side-by-side measurement written to ``benchmarks/results/ablations.md`` (+ ``.json``
with every per-seed number, + ``ablations.png``).

Protocol
--------
* **One corpus, built once**: every molecule with a biological profile (L1000 DrugBank
  consensus, Cell Painting + CMEA L1000 of 162 Broad compounds), the structures of the two
  evaluation sets (ChEMBL2K, ESOL: structures only, never labels, exactly as the shipped model
  whose corpus holds every benchmark structure), then other corpus molecules of
  ``scripts/pretrain_default.py`` drawn with seed 0 up to ``--n-molecules``. Featurization,
  kNN propagation and the context graph are computed once (``fill="propagate"``, CPR graph);
  the other variants are derived from that corpus without recomputing anything: ``fill="zero"``
  / ``"mean"`` only change the encoder inputs of the unobserved rows (observed rows, augmented
  views and CPR targets are the same, as ``PretrainCorpus.build`` would make them), and
  "molecular modalities only" drops the profile tables and keeps the molecule–molecule part of
  the context graph.
* **Same budget for every variant**: same molecules, epochs, batch size, lr, seed; only the
  named switch differs (``PretrainConfig`` fields: ``use_sca``, ``use_tree_vq``, ``tree``,
  ``use_cpr``, ``fill``). Control: the same encoder **randomly initialised** (seed 0, no
  pretraining step), exported through the same checkpoint path.
* **Evaluation**: each encoder's checkpoint is loaded with ``CHMRTransformer(pretrained=ckpt,
  precision="float32")`` and embeds ChEMBL2K (41 tasks, InfoAlign scaffold groups seed 3,
  60/15/25 = 1413/353/589) and ESOL (OGB scaffold 80/10/10); ``CHMRClassifier("passthrough")``
  / ``CHMRRegressor("passthrough")`` heads with hyperparameters picked ONCE on the validation
  split for the *full* variant (seed 0) and then fixed for every variant; 3 head seeds, mean ±
  std. RF (500 trees, ``min_samples_leaf=2``, per task, on the 1191-bit fingerprint) on the
  same splits as the reference.

Usage::

    CHMR_DATA_HOME=../shared/data nice -n 5 python benchmarks/ablations.py          # full (~45 min)
    CHMR_DATA_HOME=../shared/data python benchmarks/ablations.py --quick            # few minutes
    python benchmarks/ablations.py --variants full no_sca random_init --epochs 2
    python benchmarks/ablations.py --recipe gentle --n-molecules 12000 --epochs 8   # the shipped recipe
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "scripts"))

import pretrain_default as PD  # noqa: E402  (the shipped model's corpus and profile tables)
import torch  # noqa: E402

from chmr_sklearn.pretrain import RECIPES  # noqa: E402
from chmr_sklearn.benchmark._ablations import (  # noqa: E402
    ALL_VARIANTS,
    VARIANTS,
    Workspace,
    corpus_smiles,
    evaluate_variants,
    merge,
    pretrain_stage,
)

RESULTS = ROOT / "benchmarks" / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny corpus, 1 epoch, 1 seed: a few minutes")
    parser.add_argument("--n-molecules", type=int, default=4_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="old",
                        help="PretrainConfig settings every variant starts from (RECIPES); 'old': the official "
                             "schedule of the first table")
    parser.add_argument("--lr", type=float, default=None, help="default: the recipe's")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(ALL_VARIANTS))
    # One thread: with the 2 cores oversubscribed, two OpenMP threads made an epoch 5x slower
    # (418 molecules: 70-90 s vs 12.5 s at load average ~10).
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stage", choices=("all", "pretrain", "evaluate"), default="all",
                        help="pretrain / evaluate: two processes side by side (evaluate waits for each "
                             "checkpoint); all: one after the other in this process")
    parser.add_argument("--with-eval-structures", action="store_true",
                        help="force the ChEMBL2K / ESOL structures (no labels) into the corpus")
    parser.add_argument("--corpus", default=None, help="pretrain stage: a corpus pickle written by an earlier run")
    parser.add_argument("--device", default="cpu", help="pretraining device (e.g. cuda)")
    parser.add_argument("--head-epochs", type=int, default=60)
    parser.add_argument("--heads", choices=("grid", "downstream"), default="grid",
                        help="grid: pick the head on the full variant's validation split; downstream: take "
                             "downstream.py's validation choice for the shipped model (saves 8 fits)")
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("-o", "--out", default=None, help="default: benchmarks/results/ablations.md "
                        "(--quick: runs/ablations_quick/ablations.md, so a smoke run never overwrites results)")
    parser.add_argument("--wall-minutes", type=float, default=None,
                        help="with --merge: the wall time from the first stage's start to the last one's end")
    parser.add_argument("--merge", nargs="+", default=None,
                        help="only combine the .json files of evaluate stages run side by side into --out")
    return parser


def main(argv=None) -> None:
    args = _parser().parse_args(argv)
    if args.merge:
        return merge(args.merge, Path(args.out or RESULTS / "ablations.md"), args.wall_minutes)
    if args.quick:
        args.n_molecules, args.epochs, args.seeds = 600, 1, [0]
    home = Path(os.environ.setdefault("CHMR_DATA_HOME", str(ROOT.parent / "shared" / "data")))
    torch.set_num_threads(args.threads)
    name = "ablations" if args.recipe == "old" else f"ablations_{args.recipe}"
    ws = Workspace(runs=ROOT / "runs" / (f"{name}_quick" if args.quick else name), repo=ROOT,
                   patience=args.patience, device=args.device)
    ws.runs.mkdir(parents=True, exist_ok=True)
    out = Path(args.out or (ws.runs / "ablations.md" if args.quick else RESULTS / "ablations.md"))
    t0, load_start = time.perf_counter(), ", ".join(f"{x:.2f}" for x in os.getloadavg())

    def log(msg):
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    base = {**RECIPES[args.recipe], "max_epochs": args.epochs, "batch_size": args.batch_size, "seed": 0}
    if args.lr is not None:
        base["lr"] = args.lr
    # the full variant comes first (the reference of Δ); an evaluate stage keeps the given order, so
    # it can score what is already there (e.g. the shipped model) while the pretrain stage works
    variants = args.variants if args.stage == "evaluate" or args.corpus else ["full"] + [v for v in args.variants if v != "full"]
    corpus = pretrain_stage(ws, args, base, variants, log, load_profiles=lambda: PD.load_profiles(home),
                            choose_smiles=lambda: corpus_smiles(
                                home, args.n_molecules, args.quick, log, args.with_eval_structures,
                                profile_files=[rel for rel, _ in PD.PROFILE_FILES.values()],
                                everything=PD.gather_molecules(home, None)))
    if corpus is None:  # a pretrain-only stage
        return log(f"pretraining stage done in {(time.perf_counter() - t0) / 60:.1f} min")
    evaluate_variants(ws, args, variants, corpus, base, out, log=log, t0=t0, load_start=load_start,
                      command="python benchmarks/ablations.py " + " ".join(sys.argv[1:] if argv is None else argv))
    log(f"done in {(time.perf_counter() - t0) / 60:.1f} min -> {out}")


if __name__ == "__main__":
    main()
