"""``chmr demo``: the README's main job on real molecules shipped with RDKit."""

import re

import pytest

from chmr_sklearn.cli import main

# A CHMR row says what each head does with the residual forest: what rf_residual="auto" chose,
# "CHMRClassifier (rf_residual on, off)", or the weight "blend" gives it, "CHMRRegressor (forest weight 0.38, 0.71)".
_FOREST = r"rf_residual (?:on|off)(?:, (?:on|off))*|forest weight [01]\.\d\d(?:, [01]\.\d\d)*"
ROW = re.compile(rf"^(\w+(?:Regressor|Classifier))(?: \((?:{_FOREST})\))?\s+(mean_\w+)\s+(\S+)\s+(\S+)$",
                 flags=re.MULTILINE)


def test_demo_on_a_subset(capsys):
    # 80 evenly spaced molecules keep the default run short; their seeded scaffold split puts
    # 4 active and 4 inactive molecules in the test part, so the classifiers' ROC-AUC is defined.
    assert main(["demo", "--n", "80", "--epochs", "2", "--n-jobs", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert "80 real molecules with activities" in out and "scaffold split 64/8/8" in out
    rows = {name: (metric, float(value)) for name, metric, value, _ in ROW.findall(out)}
    assert set(rows) == {"CHMRRegressor", "RandomForestRegressor", "CHMRClassifier", "RandomForestClassifier"}
    assert 0 < rows["CHMRRegressor"][1] < 5 and 0 < rows["RandomForestRegressor"][1] < 5  # MAE, log units
    assert rows["CHMRClassifier"][0] == rows["RandomForestClassifier"][0] == "mean_roc_auc"
    assert 0 <= rows["CHMRClassifier"][1] <= 1 and 0 <= rows["RandomForestClassifier"][1] <= 1  # not NaN
    assert rows["RandomForestClassifier"][1] > 0.5  # 500 trees on 64 molecules rank the 8 better than chance
    assert "holds a single class" not in out
    assert re.search(r"^CHMRRegressor \(forest weight [01]\.\d\d, [01]\.\d\d\) ", out, flags=re.MULTILINE)
    assert re.search(r"^CHMRClassifier \(rf_residual (on|off), (on|off)\) ", out, flags=re.MULTILINE)
    assert re.search(r"tree codes of the test molecules at depth 3: \d+ groups, largest holds \d+", out)


@pytest.mark.slow
def test_demo_compares_chmr_and_random_forest(capsys):
    assert main(["demo", "--epochs", "3", "--n-jobs", "2"]) == 0
    out = capsys.readouterr().out
    rows = {name: (metric, float(value)) for name, metric, value, _ in ROW.findall(out)}
    assert "1017 real molecules" in out and "tree codes" in out
    assert 0.5 < rows["CHMRClassifier"][1] <= 1 and 0.5 < rows["RandomForestClassifier"][1] <= 1
    assert 0 < rows["CHMRRegressor"][1] < 2
