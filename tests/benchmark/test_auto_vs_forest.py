"""benchmarks/auto_vs_forest.py: where "auto" and rf_residual=True differ, and by how much."""

import json

from _scripts import load_script


def _fit(valid: float, test: float, heads: list[bool]) -> dict:
    return {"valid": {"roc_auc": valid}, "test": {"roc_auc": test}, "heads": [{"rf_residual": h} for h in heads]}


def test_the_report_compares_only_the_seeds_where_a_head_dropped_the_forest(tmp_path):
    script = load_script("benchmarks/auto_vs_forest.py")
    run = {"date": "2026-12-05", "cpu": "AMD EPYC", "cores": 2, "python": "3.11", "torch": "2", "rdkit": "2026",
           "command": "test"}
    report = {"meta": {"runs": [run]}, "fits": {
        "bace:0": {"auto": _fit(0.70, 0.80, [True, True]), "load": [1.0, 1.0, 1.0]},
        "bace:1": {"auto": _fit(0.72, 0.84, [True, False]), "true": _fit(0.74, 0.83, [True, True]),
                   "load": [1.5, 1.0, 1.0]}}}
    s = script.summarize(report)["bace"]
    assert s["seeds"] == [0, 1] and s["differ"] == [1]
    assert [round(x, 6) for x in s["d_valid"]] == [2.0] and [round(x, 6) for x in s["d_test"]] == [-1.0]
    assert [round(x, 6) for x in s["valid_true"]] == [70.0, 74.0]  # seed 0: True is auto's own fit
    out = tmp_path / "auto_vs_forest.md"
    script.write(report, out)
    text = out.read_text()
    assert "| bace | 2 | [1] | +2.00 | -1.00 | 71.00 ± 1.41 → 72.00 ± 2.83 | 82.00 ± 2.83 → 81.50 ± 2.12 |" in text
    assert "higher on validation in 1 (mean +2.00) and on test in 0 (mean -1.00)" in text
    assert "load average (1 min) after each seed: 1.00–1.50" in text
    assert json.loads(out.with_suffix(".json").read_text()) == report
