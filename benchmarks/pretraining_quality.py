"""What does CHMR pretraining contribute, and what limits it? Evidence on the shipped model.

Not a test: writes ``benchmarks/results/pretraining_quality.md`` (+ ``.json``).

Sections
--------
1. **Loss curves** of the shipped model (``chmr_sklearn/pretrained/default.json``) and of the
   ablation runs (``benchmarks/results/ablations.json`` when present): which loss terms moved.
2. **How much biological signal a batch sees**: observed profile rows per batch of the shipped
   corpus (binomial expectation) and how often a modality has the ≥ 2 rows SCA needs.
3. **Probes on ChEMBL2K labels** (InfoAlign split 60/15/25, 41 tasks), the representation
   frozen: logistic regression (C picked on validation) and a kNN vote, per task, on
   (a) the shipped model's anchor (300), (b) the same encoder **randomly initialised** (same
   architecture, same conformer scaler, never trained), (c) the raw 1191-bit fingerprint,
   (d)/(e) the three latents (900) of shipped / random encoders. Plus the CHMR head
   (``CHMRClassifier("passthrough")``, 3 seeds) on fingerprint only vs ``[fp ; latents]`` of
   shipped / random encoders: do the learned latents add anything over the fingerprint the
   head also sees?
4. **Tree codes**: do ChEMBL2K molecules that share a tree-code prefix share a Murcko scaffold,
   fingerprint similarity or labels more than random pairs, and more than under the same
   routing with the random-init encoder? Codebook usage per level.
5. **Ablation summary** (random-init control vs full) copied from ``ablations.json``.

Usage::

    CHMR_DATA_HOME=../shared/data nice -n 5 python benchmarks/pretraining_quality.py          # ~10 min
    CHMR_DATA_HOME=../shared/data python benchmarks/pretraining_quality.py --quick            # ~2 min
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout

import torch  # noqa: E402

from chmr_sklearn.benchmark._quality import run_quality, write_report  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("-o", "--out", default=None)
    parser.add_argument("--reuse", action="store_true",
                        help="keep the sections of an existing results .json; compute only the missing ones")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = [0]
    os.environ.setdefault("CHMR_DATA_HOME", str(ROOT.parent / "shared" / "data"))
    out = Path(args.out or (ROOT / "runs" / "quality_quick" / "pretraining_quality.md" if args.quick
                            else RESULTS / "pretraining_quality.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # oversubscribed shared cores: one thread is faster (ablations.py)
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    earlier = json.loads(out.with_suffix(".json").read_text()) if args.reuse and out.with_suffix(".json").is_file() \
        else None
    res = run_quality(quick=args.quick, seeds=args.seeds, runs=ROOT / "runs", earlier=earlier,
                      ablations=RESULTS / "ablations.json", log=log)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
    write_report(out, res, args.seeds, " ".join(sys.argv[1:] if argv is None else argv))
    log(f"done in {res['wall_minutes']:.1f} min -> {out}")


if __name__ == "__main__":
    main()
