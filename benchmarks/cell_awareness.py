"""Cell-awareness benchmark (issue 12 item 1): held-out cell profiles predicted from the frozen embedding.

Protocol and metrics: ``chmr_sklearn/benchmark/_cell_awareness.py``. Writes
``benchmarks/results/cell_awareness.{md,json,meta.json,png}`` (``--out`` changes the prefix).
Per-seed pretrainings are checkpointed under ``--work-dir``: rerun the same command to resume.

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/cell_awareness.py --quick --out /tmp/cell_awareness
    CHMR_DATA_HOME=../shared/data python benchmarks/cell_awareness.py --recipe new   # full: <= 40 min, 2 cores
    CHMR_DATA_HOME=../shared/data python benchmarks/cell_awareness.py --recipe old \\
        --out benchmarks/results/cell_awareness.old_recipe
    # one process per seed (e.g. on a GPU), then one report:
    python benchmarks/cell_awareness.py --device cuda --seeds 0 --out runs/ca_s0   # ... --seeds 1, 2
    python benchmarks/cell_awareness.py --recipe gentle --set cpr_source=anchor --out runs/ca_anchor  # + overrides
    python benchmarks/cell_awareness.py --merge runs/ca_s0.meta.json runs/ca_s1.meta.json runs/ca_s2.meta.json
"""

from __future__ import annotations

import argparse
import sys

from chmr_sklearn.benchmark._cell_awareness import RECIPES, merge_cell_awareness, run_cell_awareness
from chmr_sklearn.pretrain import PretrainConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny corpus, 1 epoch, 2 seeds (smoke test)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="new")
    parser.add_argument("--work-dir", default="runs/cell_awareness", help="per-seed checkpoints (resumable)")
    parser.add_argument("--out", default="benchmarks/results/cell_awareness", help="output prefix")
    parser.add_argument("--epochs", type=int, help="override the mode's epochs (full: 10)")
    parser.add_argument("--n-background", type=int, help="override the sampled pool structures (full: 2500)")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the seeds (full: 0 1 2)")
    parser.add_argument("--device", default="cpu", help="where pretraining runs (cpu, cuda, auto)")
    parser.add_argument("--n-jobs", type=int, default=-1, help="featurization workers")
    parser.add_argument("--set", nargs="+", default=[], metavar="FIELD=VALUE", type=PretrainConfig.parse_override,
                        help="PretrainConfig fields on top of the recipe, e.g. --set cpr_source=anchor lambda_sca=1")
    parser.add_argument("--merge", nargs="+", metavar="META_JSON",
                        help="no run: pool the seeds of earlier runs' <prefix>.meta.json into one report at --out")
    args = parser.parse_args(argv)
    command = " ".join(["python", *sys.argv])
    if args.merge:
        merge_cell_awareness(args.merge, args.out, command=command)
        return
    work = f"{args.work_dir}/quick" if args.quick else args.work_dir
    run_cell_awareness(quick=args.quick, recipe=args.recipe, work_dir=work, out=args.out,
                       command=command, epochs=args.epochs, n_background=args.n_background, seeds=args.seeds,
                       device=args.device, n_jobs=args.n_jobs, overrides=dict(args.set))


if __name__ == "__main__":
    main()
