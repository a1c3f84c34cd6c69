"""``chmr benchmark``: arguments reach run_downstream; a quick real run is marked slow."""

import json

import pytest

from chmr_sklearn.cli import main

from ._helpers import error_line


def test_unknown_dataset_and_bad_report_name(tmp_path, capsys):
    assert main(["benchmark", "--dataset", "esol", "tox9000", "--quick", "-q"]) == 2
    line = error_line(capsys, "benchmark")
    assert "unknown dataset 'tox9000'" in line and "freesolv" in line and "lipophilicity" in line
    assert main(["benchmark", "--dataset", "esol", "-o", str(tmp_path / "results.txt")]) == 2
    assert "must end with .md" in error_line(capsys, "benchmark")
    assert main(["benchmark", "--dataset", "esol", "--seeds"]) == 2  # argparse: --seeds needs values
    assert "--seeds" in capsys.readouterr().err


@pytest.mark.slow
def test_quick_benchmark_writes_the_report(tmp_path, capsys):
    out = tmp_path / "results.md"
    assert main(["benchmark", "--dataset", "freesolv", "--quick", "--seeds", "0", "--no-chemprop",
                 "--n-jobs", "1", "-o", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "[freesolv]" in stdout and f"wrote {out}" in stdout
    assert "freesolv" in out.read_text()
    report = json.loads(out.with_suffix(".json").read_text())
    (result,) = report["results"]
    assert result["name"] == "freesolv" and report["meta"]["seeds"] == [0] and report["meta"]["quick"]
    assert {"chmr", "rf", "fp_mlp", "chmr_rf"} <= set(result["models"])
