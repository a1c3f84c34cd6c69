"""Soak: one transformer in one process embeds every real molecule we have, in requests; RSS must stay flat.

Thin script over :mod:`chmr_sklearn.benchmark` (``soak_corpus``, ``run_soak``, ``render_soak``).
Writes ``benchmarks/results/soak.md`` (+ ``.json``, every 10 requests and at the end, so a run
stopped by ``--max-minutes`` or killed still leaves a report).

The full run reads every real molecule available offline (151,006 distinct: fewer than 200,000
exist here; the list is built once, ~3 min, and kept in ``--work-dir``), embeds them all with
``cache_size=512`` and a disk cache in ``--work-dir`` (~1.3 GB at 8.6 kB per molecule).

Usage::

    CHMR_DATA_HOME=../shared/data nice -n 5 python benchmarks/soak.py --max-minutes 60   # full
    python benchmarks/soak.py --quick --n-molecules 10000   # medium: all WEHI molecules, ~5 min
    python benchmarks/soak.py --quick            # 3,000 WEHI molecules, 8 MB memory cache, < 1 min
    python benchmarks/soak.py --from-json benchmarks/results/soak.json   # re-render the report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
os.environ.setdefault("CHMR_DATA_HOME", str(Path(__file__).resolve().parents[2] / "shared" / "data"))

from chmr_sklearn.benchmark import render_soak, run_soak, soak_corpus  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "soak.md"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="3,000 WEHI molecules, requests of 250, cache_size=8")
    ap.add_argument("--max-minutes", type=float, help="stop after this much wall time; the report says so")
    ap.add_argument("--n-molecules", type=int, help="only the first N molecules of the (shuffled) corpus")
    ap.add_argument("--cache-size", type=float, help="in-memory cache bound, MB (default: 512; --quick: 8)")
    ap.add_argument("--no-disk-cache", action="store_true", help="run without cache_dir")
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "chmr_soak",
                    help="the disk cache and the corpus list (reused by later runs)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--from-json", type=Path, help="only re-render --out from a saved result")
    args = ap.parse_args(argv)
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        return _write(saved["result"], args.out, saved["command"], saved["counts"])
    corpus_file = args.work_dir / ("corpus_quick.json" if args.quick else "corpus.json")
    smiles, counts = soak_corpus(quick=args.quick, cache=corpus_file)
    if args.quick or args.n_molecules:
        n, kind = min(len(smiles), args.n_molecules or 3000), "WEHI molecules" if args.quick else "molecules"
        smiles, counts = smiles[:n], {f"first {n:,} of {len(smiles):,} {kind} after shuffling": n}
    command = "python benchmarks/soak.py " + " ".join(argv if argv is not None else sys.argv[1:])
    cache_dir = None if args.no_disk_cache else args.work_dir / "cache"
    result = run_soak(smiles, request_size=250 if args.quick else 1000,
                      cache_size=args.cache_size or (8 if args.quick else 512), cache_dir=cache_dir,
                      max_minutes=args.max_minutes, every=lambda r: _write(r, args.out, command, counts))
    _write(result, args.out, command, counts)
    print(render_soak(result, command=command, counts=counts))


def _write(result: dict, out: Path, command: str, counts: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"command": command, "counts": counts, "result": result}, indent=1))
    out.write_text(render_soak(result, command=command, counts=counts))


if __name__ == "__main__":
    main()
