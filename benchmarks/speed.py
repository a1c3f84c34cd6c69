"""Speed and memory of every CHMR step against its plain reference, measured in the same run.

Not a test: writes ``benchmarks/results/speed.md`` (+ ``.json``, + ``speed.png``, log-log time vs
molecules).

Steps and their references (each pair timed back to back, on the same molecules, one process,
``n_jobs=1`` so that the peak RSS of the step is this process's):

* featurization: ``FingerprintFeaturizer`` and ``featurize_molecular`` (fingerprint + graph + 3D
  conformer) vs the plain RDKit fingerprint loop (``benchmarks/_reference.py``);
* embedding: ``CHMRTransformer().fit(X).transform(X)`` cold (fresh instance) and cached (same
  instance, same X again) vs the plain loop;
* head fit: ``CHMRClassifier("passthrough")`` on the ChEMBL2K train split (41 tasks, early
  stopping on its validation split) vs one ``RandomForestClassifier(500 trees)`` per task;
* predict: head ``predict_proba`` on precomputed embeddings vs the forests' ``predict_proba`` on
  fingerprints, and end to end from SMILES (embedding + head vs fingerprint + forests);
* pretraining: ``PretrainCorpus.build`` and one epoch of ``Pretrainer`` at 1k, 5k, 20k and 50k
  molecules of the pretraining corpus (profiled molecules first), with a power-law fit
  ``t = a · n^b`` of each; reference: the plain fingerprint loop on the same molecules.

Peak RSS is sampled every 20 ms by a thread while each step runs (psutil); "Δ" is the peak minus
the RSS when the step started.

Usage::

    CHMR_DATA_HOME=../shared/data nice -n 5 python benchmarks/speed.py        # ~20 min
    CHMR_DATA_HOME=../shared/data python benchmarks/speed.py --quick          # ~2 min, small sizes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import pretrain_default as PD  # noqa: E402  (the shipped model's corpus and profiles)

from chmr_sklearn._inputs import to_smiles  # noqa: E402
from chmr_sklearn.benchmark._speed import parse_log, render_speed, run_speed  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def corpus_pool(home: Path, n_max: int) -> list[str]:
    """Profiled molecules first, then the rest of the pretraining corpus in a seeded order."""
    profiled = []
    for rel, _ in PD.PROFILE_FILES.values():
        profiled += [to_smiles(s) for s in pd.read_csv(home / rel, usecols=["smiles"])["smiles"]]
    profiled = list(dict.fromkeys(s for s in profiled if s))
    everything = PD.gather_molecules(home, None)
    taken = set(profiled)
    rest = [s for s in everything if s not in taken]
    order = np.random.default_rng(0).permutation(len(rest))
    return (profiled + [rest[i] for i in order])[:n_max]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    # one thread: with the 2 cores oversubscribed by other jobs, 2 OpenMP threads were ~5x slower (ablations.py)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the encoder and pretraining")
    parser.add_argument("-o", "--out", default=None)
    parser.add_argument("--feat-sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--pretrain-sizes", type=int, nargs="+", default=[1000, 5000, 20000, 50000])
    parser.add_argument("--knn-sizes", type=int, nargs="+", default=[1000, 5000, 20000, 50000],
                        help="sizes for the all-pairs steps alone (Tanimoto kNN + context graph) on fingerprints")
    parser.add_argument("--from-json", default=None, help="only rewrite the report and plot from a speed.json")
    parser.add_argument("--from-log", default=None,
                        help="rebuild speed.json + report from the log of a run stopped before its end")
    args = parser.parse_args(argv)
    if args.from_log:
        args.from_json = str(Path(args.out or RESULTS / "speed.md").with_suffix(".json"))
        Path(args.from_json).write_text(json.dumps(parse_log(Path(args.from_log)), indent=1))
    if args.from_json:
        render_speed(json.loads(Path(args.from_json).read_text()),
                     Path(args.out or Path(args.from_json).with_suffix(".md")))
        return
    quick = args.quick
    home = Path(os.environ.setdefault("CHMR_DATA_HOME", str(ROOT.parent / "shared" / "data")))
    out = Path(args.out or (ROOT / "runs" / "speed_quick" / "speed.md" if quick else RESULTS / "speed.md"))
    out.parent.mkdir(parents=True, exist_ok=True)
    pre_sizes = [300, 600, 1200] if quick else args.pretrain_sizes
    t0 = time.perf_counter()  # log lines carry the elapsed time: parse_log reads them back
    data = run_speed(pool=lambda n: corpus_pool(home, n), profiles=lambda: PD.load_profiles(home),
                     feat_sizes=[200, 500] if quick else args.feat_sizes, pre_sizes=pre_sizes,
                     knn_sizes=[300, 1200] if quick else args.knn_sizes, quick=quick, threads=args.threads,
                     command="python benchmarks/speed.py " + " ".join(sys.argv[1:] if argv is None else argv),
                     log=lambda msg: print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True))
    out.with_suffix(".json").write_text(json.dumps(data, indent=1))
    render_speed(data, out)
    print(f"done in {data['meta']['wall_minutes']:.1f} min -> {out}")


if __name__ == "__main__":
    main()
