"""Which pretrained model to ship: candidate checkpoints compared on VALIDATION splits only.

Every candidate embeds the train and validation rows of ChEMBL2K, Broad6K, BBBP, BACE, ClinTox,
SIDER, ESOL and Lipophilicity (test rows are never embedded nor scored); one fixed head per task
type is fitted on the training rows and scored on the validation rows, 3 seeds. Controls:
``random_init`` (the first candidate's architecture, untrained) and ``fingerprint`` (the 1191
bits). Verdicts: does each candidate beat the first (the shipped model), and does it beat
``random_init`` by >= 1.0 mean ROC-AUC with lower ESOL and Lipophilicity MAE; with
``--seed-group``, is a recipe pretrained with several seeds, on its seeds' mean, within
``--margin`` ROC-AUC points of the first with lower MAE on both (non-inferiority). Writes
``benchmarks/results/model_selection.md`` (+ ``.json``) after every dataset; the logic lives in
``chmr_sklearn.benchmark._selection``.

Usage::

    CHMR_DATA_HOME=../shared/data python benchmarks/model_selection.py \\
        --candidate shipped=chmr_sklearn/pretrained/default.pt --candidate new=runs/new_default/default.pt
    CHMR_DATA_HOME=../shared/data python benchmarks/model_selection.py --quick   # shipped only, ~1-2 min
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout

from chmr_sklearn.benchmark._selection import DATASETS, MARGIN, parse_candidates, run_selection
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL


def parse_groups(ap: argparse.ArgumentParser, specs: list[str]) -> dict[str, list[str]]:
    """``["lean=lean_s0,lean_s1"]`` -> ``{"lean": ["lean_s0", "lean_s1"]}`` (argparse error if malformed)."""
    groups = {}
    for spec in specs:
        name, sep, members = spec.partition("=")
        if not sep or not name or not all(members.split(",")):
            ap.error(f"--seed-group expects NAME=A,B,..., got {spec!r}")
        groups[name] = members.split(",")
    return groups


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--candidate", action="append", metavar="NAME=PATH",
                    help="a checkpoint to compare (repeat; the first is the reference; default: the shipped model)")
    ap.add_argument("--quick", action="store_true", help="bace + esol, 1 seed, a row sample, 5 epochs (a smoke run)")
    ap.add_argument("--reuse", action="store_true", help="keep the datasets an earlier run wrote to --out")
    ap.add_argument("--datasets", nargs="+", choices=DATASETS, help="a subset (default: all 8, or quick's 2)")
    ap.add_argument("--seeds", nargs="+", type=int, help="default 0 1 2 (quick: 0)")
    ap.add_argument("--n-jobs", type=int, default=None, help="CHMRTransformer(n_jobs=...) for the embeddings")
    ap.add_argument("--random-init-from", metavar="NAME",
                    help="the candidate whose architecture the random_init control copies (default: the first)")
    ap.add_argument("--seed-group", action="append", default=[], metavar="NAME=A,B,...",
                    help="candidates that are one recipe pretrained with several seeds, judged on their mean "
                         "(repeat for several groups)")
    ap.add_argument("--margin", type=float, default=MARGIN,
                    help="the seed groups' non-inferiority margin, ROC-AUC points (default %(default)s)")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "runs" / "model_selection_cache")
    ap.add_argument("--out", type=Path, help="default benchmarks/results/model_selection.md (quick: a temp dir)")
    args = ap.parse_args(argv)
    candidates = parse_candidates(args.candidate or [f"shipped={DEFAULT_MODEL}"])
    out = args.out or (Path(tempfile.gettempdir()) / "model_selection_quick.md" if args.quick
                       else REPO / "benchmarks" / "results" / "model_selection.md")
    start, argv = time.perf_counter(), sys.argv[1:] if argv is None else argv
    run_selection(candidates, out=out, cache_dir=args.cache_dir, quick=args.quick, reuse=args.reuse,
                  seeds=args.seeds, datasets=args.datasets, n_jobs=args.n_jobs,
                  random_init_from=args.random_init_from, groups=parse_groups(ap, args.seed_group),
                  margin=args.margin,
                  command=shlex.join(["python", "benchmarks/model_selection.py", *argv]),
                  log=lambda msg: print(f"{time.perf_counter() - start:7.1f}s {msg}", flush=True))
    print(f"wrote {out} (+ .json)")


if __name__ == "__main__":
    main()
