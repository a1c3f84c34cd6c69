"""Cell-awareness benchmark (issue 12 item 1): held-out cell profiles predicted from the frozen embedding.

Protocol and metrics: ``chmr_sklearn/benchmark/_cell_awareness.py``. Writes
``benchmarks/results/cell_awareness.{md,json,meta.json,png}`` (``--out`` changes the prefix).
Per-seed pretrainings are checkpointed under ``--work-dir``: rerun the same command to resume.

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/cell_awareness.py --quick --out /tmp/cell_awareness
    CHMR_DATA_HOME=../shared/data python benchmarks/cell_awareness.py --recipe new   # full: <= 40 min, 2 cores
    CHMR_DATA_HOME=../shared/data python benchmarks/cell_awareness.py --recipe old \\
        --out benchmarks/results/cell_awareness.old_recipe
"""

from __future__ import annotations

import argparse
import sys

from chmr_sklearn.benchmark._cell_awareness import RECIPES, run_cell_awareness


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny corpus, 1 epoch, 2 seeds (smoke test)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="new")
    parser.add_argument("--work-dir", default="runs/cell_awareness", help="per-seed checkpoints (resumable)")
    parser.add_argument("--out", default="benchmarks/results/cell_awareness", help="output prefix")
    parser.add_argument("--epochs", type=int, help="override the mode's epochs (full: 10)")
    parser.add_argument("--n-background", type=int, help="override the sampled pool structures (full: 2500)")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the seeds (full: 0 1 2)")
    args = parser.parse_args(argv)
    work = f"{args.work_dir}/quick" if args.quick else args.work_dir
    run_cell_awareness(quick=args.quick, recipe=args.recipe, work_dir=work, out=args.out,
                       command=" ".join(["python", *sys.argv]), epochs=args.epochs,
                       n_background=args.n_background, seeds=args.seeds)


if __name__ == "__main__":
    main()
