"""The README's results table says what the committed benchmark results say.

Every cell of the paper-protocol table (mean ± std, ▲/▼ against RF) is read back from
``benchmarks/results/downstream_full_grids.json``, so a rerun that lands without its README edit, or a
hand-edited number, fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chmr_sklearn.benchmark._report import _better, _five_mean, summarize

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ["chmr", "chmr_rf", "chmr_default", "fp_mlp", "rf", "chemprop"]  # the README's column order
ROWS = {"ChEMBL2K": "chembl2k", "Broad6K": "broad6k", "ToxCast (617": "toxcast", "ToxCast, 60/15/25": "toxcast_6015",
        "BBBP": "bbbp", "BACE": "bace", "ClinTox": "clintox", "SIDER": "sider", "HIV": "hiv", "ESOL": "esol",
        "FreeSolv": "freesolv", "Lipophilicity": "lipophilicity"}
_CELL = re.compile(r"([\d.]+) ± ([\d.]+)")


def _cells(line: str) -> list[str]:
    """A README table line's cells under COLUMNS (the label and the paper column left out)."""
    return [c.strip() for c in line.strip("|").split("|")[1:1 + len(COLUMNS)]]


def _readme_row(prefix: str) -> list[str]:
    return _cells(next(x for x in (ROOT / "README.md").read_text().splitlines() if x.startswith(prefix)))


def _readme_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "README.md").read_text().splitlines():
        label = next((k for k in ROWS if line.startswith(f"| {k}")), None)
        if label is not None:
            rows[ROWS[label]] = _cells(line)
    return rows


def _results() -> dict[str, dict]:
    report = json.loads((ROOT / "benchmarks" / "results" / "downstream_full_grids.json").read_text())
    return {r["name"]: r for r in report["results"]}


def test_readme_has_every_paper_protocol_row():
    assert sorted(_readme_rows()) == sorted(ROWS.values())


@pytest.mark.parametrize("name", sorted(ROWS.values()))
def test_readme_cells_match_the_committed_results(name):
    result = _results()[name]
    summary = summarize(result)
    digits = 1 if result["kind"] == "classification" else 3
    for model, cell in zip(COLUMNS, _readme_rows()[name]):
        found = _CELL.search(cell)
        if model not in summary:
            assert found is None, f"{name} {model}: README shows {cell!r}, the results have no run"
            continue
        s = summary[model]
        assert found is not None, f"{name} {model}: README cell {cell!r} lacks the result"
        assert found.groups() == (f"{s['mean']:.{digits}f}", f"{s['std']:.{digits}f}"), f"{name} {model}: {cell!r}"
        if model not in ("rf", "fp_mlp", "chemprop"):  # the README marks the CHMR columns against RF
            better = _better(result["kind"], s["mean"], summary["rf"]["mean"])
            assert ("▲" if better else "▼") in cell, f"{name} {model}: {cell!r}"


def test_readme_five_moleculenet_mean_matches():
    cells = _readme_row("| **5-MoleculeNet mean**")
    five = _five_mean(list(_results().values()))
    for model, cell in zip(COLUMNS, cells):
        assert re.search(r"[\d.]+", cell).group() == f"{five[model]:.1f}", f"{model}: {cell!r}"


def test_readme_moleculeace_row_matches():
    """The MoleculeACE row: the defaults' and RF's mean test RMSE over the 30 sets and the defaults' wins."""
    from chmr_sklearn.benchmark._moleculeace import _stats, _wins

    results = json.loads((ROOT / "benchmarks" / "results" / "moleculeace.json").read_text())["results"]
    cells = _readme_row("| MoleculeACE, 30 sets")
    mean = {m: sum(_stats(r["models"][m], "rmse")[0] for r in results) / len(results) for m in ("chmr", "rf")}
    assert len(results) == 30
    assert cells[COLUMNS.index("chmr_default")].startswith(f"**{mean['chmr']:.3f}** ▲")
    assert cells[COLUMNS.index("rf")] == f"{mean['rf']:.3f}"
    wins, n = _wins(results, "rmse", "chmr", "rf")
    assert f"({wins} of {n})" in cells[COLUMNS.index("chmr_default")]
