"""The cell-awareness harness's pieces on real profiles: split, baselines, metrics, summary."""

import json
import math

import numpy as np
import pytest

from chmr_sklearn.benchmark._cell_awareness import (
    heldout_split,
    load_cell_profiles,
    merge_cell_awareness,
    predict_baselines,
    profile_metrics,
    render_cell_awareness,
    run_cell_awareness,
    run_name,
    summarize_cell_awareness,
)
from chmr_sklearn.featurize import FingerprintFeaturizer
from chmr_sklearn.model_selection import scaffold_groups


@pytest.fixture(scope="module")
def cmea():
    table = load_cell_profiles()["expression_cmea"]
    return table, table.drop(columns=["smiles"]).to_numpy(np.float64)


def test_profiles_are_clipped_and_keyed_by_canonical_smiles():
    tables = load_cell_profiles()
    expr = tables["expression"].drop(columns=["smiles"]).to_numpy()
    assert np.abs(expr).max() == 10.0  # MODZ z-scores reach +-200 before clipping
    assert tables["expression"]["smiles"].is_unique
    assert tables["morphology"]["smiles"].equals(tables["expression_cmea"]["smiles"])


def test_heldout_split_keeps_scaffolds_together(cmea):
    table, _ = cmea
    for seed in (0, 1):
        train, test = heldout_split(table["smiles"], seed)
        assert len(set(train) & set(test)) == 0 and len(train) + len(test) == len(table)
        assert 0.12 < len(test) / len(table) < 0.28
        groups = np.asarray(scaffold_groups(list(table["smiles"])))
        assert not set(groups[train]) & set(groups[test])
    assert not np.array_equal(heldout_split(table["smiles"], 0)[1], heldout_split(table["smiles"], 1)[1])


def test_metrics_reward_the_truth_and_not_the_mean(cmea):
    table, y = cmea
    train, test = heldout_split(table["smiles"], 0)
    mean = y[train].mean(axis=0)
    truth = profile_metrics(y[test], y[test], mean)
    assert truth["pearson"] == pytest.approx(1.0) and truth["mrr"] == 1.0 and truth["top5pct"] == 1.0
    constant = profile_metrics(np.repeat(mean[None], len(test), axis=0), y[test], mean)
    assert constant["pearson_centred"] == 0.0 and constant["pearson_feature"] == 0.0
    assert math.isnan(constant["mrr"])
    shuffled = profile_metrics(y[test][np.random.default_rng(0).permutation(len(test))], y[test], mean)
    assert shuffled["mrr"] < 0.5 and shuffled["pearson_centred"] < truth["pearson_centred"]


def test_structure_baselines_beat_chance_on_real_profiles(cmea):
    table, y = cmea
    fp = FingerprintFeaturizer().transform(list(table["smiles"]))
    train, test = heldout_split(table["smiles"], 0)
    preds = predict_baselines(fp[train], y[train], fp[test])
    mean = y[train].mean(axis=0)
    for name in ("fingerprint_ridge", "tanimoto_knn"):
        assert preds[name].shape == y[test].shape
        metrics = profile_metrics(preds[name], y[test], mean)
        assert metrics["mrr"] > 2.0 / len(test), name  # random ranking: ~ln(n)/n
    np.testing.assert_allclose(preds["mean_profile"], np.repeat(mean[None], len(test), axis=0))


def test_summary_and_report_layout():
    run = {"expression": {rep: {"pearson": p, "pearson_centred": p / 2, "pearson_feature": p / 3, "mrr": p,
                                "top5pct": p} for rep, p in
                          (("pretrained_anchor", 0.5), ("random_init_anchor", 0.2), ("fingerprint_ridge", 0.3),
                           ("tanimoto_knn", 0.3))}}
    other = {"expression": {rep: {k: v + 0.01 for k, v in m.items()} for rep, m in run["expression"].items()}}
    summary = summarize_cell_awareness([run, other])
    entry = summary["expression"]["pretrained_anchor"]
    assert {"pearson_mean", "pearson_std", "mrr_mean", "mrr_std", "top5pct_mean"} <= set(entry)
    assert entry["pearson_mean"] == pytest.approx(0.505) and entry["pearson_std"] == pytest.approx(0.005)
    text = render_cell_awareness(summary, {"recipe": "new", "heldout": {"expression": 10}})
    assert "| pretrained_anchor | 0.505 ± 0.005" in text
    assert "vs `random_init_anchor`, mrr: +0.300 (needs > 0.010): **met**" in text


def _seed_run(seed: int, pearson: float) -> dict:
    """A one-seed run's meta.json content, as run_cell_awareness writes it."""
    result = {"expression": {rep: {"pearson": pearson, "pearson_centred": pearson, "pearson_feature": pearson,
                                   "mrr": pearson, "top5pct": pearson}
                             for rep in ("pretrained_anchor", "random_init_anchor", "fingerprint_ridge",
                                         "tanimoto_knn")}}
    return {"recipe": "new", "mode": "full", "seeds": [seed], "epochs": 50, "n_molecules": 7000, "n_profiled": 1300,
            "heldout": {"expression": 231}, "config": {"lr": 1e-3, "seed": seed}, "device": "cuda",
            "stages": {f"pretrain_seed{seed}": 10.0}, "wall_seconds": 100.0 + seed, "machine": {"cores": 16},
            "histories": {str(seed): [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.0}]}, "per_seed": [result]}


def test_merge_pools_one_seed_per_process_into_one_report(tmp_path):
    paths = []
    for seed, pearson in ((0, 0.2), (1, 0.4)):
        paths.append(tmp_path / f"s{seed}.meta.json")
        paths[-1].write_text(json.dumps(_seed_run(seed, pearson)))
    summary = merge_cell_awareness(paths, tmp_path / "merged")
    entry = summary["expression"]["pretrained_anchor"]
    assert entry["pearson_mean"] == pytest.approx(0.3) and entry["pearson_std"] == pytest.approx(0.1)
    meta = json.loads((tmp_path / "merged.meta.json").read_text())
    assert meta["seeds"] == [0, 1] and sorted(meta["histories"]) == ["0", "1"] and meta["wall_seconds"] == 101.0
    assert "seeds [0, 1]; 50 epochs" in (tmp_path / "merged.md").read_text()
    assert "`new`, full mode" in (tmp_path / "merged.md").read_text()  # no overrides: none named
    assert (tmp_path / "merged.png").stat().st_size > 0


def test_merge_refuses_other_plans_and_repeated_seeds(tmp_path):
    a, b = tmp_path / "a.meta.json", tmp_path / "b.meta.json"
    a.write_text(json.dumps(_seed_run(0, 0.2)))
    b.write_text(json.dumps({**_seed_run(1, 0.2), "epochs": 10}))
    with pytest.raises(ValueError, match="another plan.*epochs=10 vs 50"):
        merge_cell_awareness([a, b], tmp_path / "m")
    b.write_text(json.dumps({**_seed_run(1, 0.2), "config": {"lr": 3e-4, "seed": 1}}))
    with pytest.raises(ValueError, match="another plan.*another config"):
        merge_cell_awareness([a, b], tmp_path / "m")
    b.write_text(json.dumps({**_seed_run(1, 0.2), "overrides": {"cpr_source": "anchor"}}))
    with pytest.raises(ValueError, match="another plan.*overrides="):
        merge_cell_awareness([a, b], tmp_path / "m")
    b.write_text(json.dumps(_seed_run(0, 0.3)))
    with pytest.raises(ValueError, match="repeat a seed"):
        merge_cell_awareness([a, b], tmp_path / "m")


def test_overrides_name_the_report_and_the_checkpoint_folder(tmp_path):
    run = {**_seed_run(0, 0.2), "overrides": {"lambda_sca": 1, "cpr_source": "anchor"}}
    (tmp_path / "a.meta.json").write_text(json.dumps(run))
    merge_cell_awareness([tmp_path / "a.meta.json"], tmp_path / "m")
    assert "Recipe `new` + `cpr_source=anchor` + `lambda_sca=1`, full mode" in (tmp_path / "m.md").read_text()
    assert run_name("new", 10, run["overrides"]) == "new_10ep_cpr_source-anchor_lambda_sca-1"
    assert run_name("new", 10, {}) != run_name("new", 10, {"lambda_sca": 1}) != run_name("new", 50, {"lambda_sca": 1})


def test_merge_takes_runs_without_overrides_as_the_same_plan(tmp_path):
    old = {k: v for k, v in _seed_run(0, 0.2).items() if k != "overrides"}  # made before overrides existed
    (tmp_path / "a.meta.json").write_text(json.dumps(old))
    (tmp_path / "b.meta.json").write_text(json.dumps({**_seed_run(1, 0.4), "overrides": {}}))
    summary = merge_cell_awareness([tmp_path / "a.meta.json", tmp_path / "b.meta.json"], tmp_path / "m")
    assert summary["expression"]["pretrained_anchor"]["pearson_mean"] == pytest.approx(0.3)


@pytest.mark.parametrize("field", ["max_epochs", "seed"])
def test_overrides_of_what_the_plan_sets_are_refused(tmp_path, field):
    with pytest.raises(ValueError, match=f"Set \\['{field}'\\] with epochs= / seeds="):
        run_cell_awareness(quick=True, recipe="gentle", work_dir=tmp_path, out=tmp_path / "r",
                           overrides={field: 3}, log=lambda m: None)
