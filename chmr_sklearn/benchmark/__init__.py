"""Downstream benchmark: CHMR vs RF, a fingerprint MLP and chemprop on identical scaffold splits.

One function per step: :func:`load_split` (load + the benchmark split), :func:`embed` (once per
dataset), :func:`grid_then_seeds` (grid on validation, then every seed), :func:`fit_chemprop`
(chemprop's own CLI on the same indices) and :func:`write_report`; :func:`run_downstream`
chains them (``chmr benchmark`` and ``benchmarks/downstream.py`` call it); :func:`merge_runs`
combines runs split over processes.

Soak benchmark (``benchmarks/soak.py``): :func:`soak_corpus` (every real molecule available
offline), :func:`run_soak` (one transformer, many requests, RSS and cache counters after each),
:func:`soak_summary` and :func:`render_soak`. The other benchmark scripts' logic lives in the
private modules ``_speed``, ``_quality``, ``_ablations``, ``_selection`` (which checkpoint to
ship, on validation splits) and ``_machine`` (machine line, plain RDKit reference), so every
script in ``benchmarks/`` is a thin command line.

Examples
--------
>>> from chmr_sklearn.benchmark import DATASETS, plan
>>> sorted(DATASETS)[:3]
['bace', 'bbbp', 'broad6k']
>>> plan("bace", quick=True)["epochs"]
10
"""

from ._chemprop import chemprop_executable, fit_chemprop
from ._data import DATASETS, BenchData, embed, load_split, split_digest
from ._models import fit_head, fit_rf, grid_then_seeds, score
from ._report import PAPER, summarize, write_report
from ._run import MODELS, VARIANTS, merge_runs, plan, run_downstream
from ._soak import render_soak, run_soak, soak_corpus, soak_summary

__all__ = [
    "DATASETS",
    "MODELS",
    "PAPER",
    "VARIANTS",
    "BenchData",
    "chemprop_executable",
    "embed",
    "fit_chemprop",
    "fit_head",
    "fit_rf",
    "grid_then_seeds",
    "load_split",
    "merge_runs",
    "plan",
    "render_soak",
    "run_downstream",
    "run_soak",
    "score",
    "soak_corpus",
    "soak_summary",
    "split_digest",
    "summarize",
    "write_report",
]
