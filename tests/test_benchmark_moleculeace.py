"""MoleculeACE benchmark library: Tanimoto kernel, inner split, cliff RMSE, selection never sees test."""

from __future__ import annotations

import numpy as np
import pytest
from _scripts import load_script
from rdkit import Chem, DataStructs
from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

from chmr_sklearn.benchmark._moleculeace import (
    ACE_CHEMPROP_SETS,
    ace_scores,
    load_ace,
    select_then_seeds,
    tanimoto_gram,
)
from chmr_sklearn.datasets import MOLECULEACE_DATASETS, load_moleculeace
from chmr_sklearn.featurize import FingerprintFeaturizer


def test_tanimoto_gram_matches_rdkit_on_the_1191_bits(smiles_200):
    smiles = smiles_200[:40]
    F = FingerprintFeaturizer().fit_transform(smiles)
    K = tanimoto_gram(F[:15], F)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    fps = []
    for smi in smiles:  # the same bits as RDKit bit vectors: Morgan r2 1024 followed by MACCS 167
        mol = Chem.MolFromSmiles(smi)
        bits = list(gen.GetFingerprint(mol).GetOnBits()) + [1024 + b for b in MACCSkeys.GenMACCSKeys(mol).GetOnBits()]
        bv = DataStructs.ExplicitBitVect(1191)
        bv.SetBitsFromList(bits)
        fps.append(bv)
    expected = np.array([DataStructs.BulkTanimotoSimilarity(fps[i], fps) for i in range(15)])
    np.testing.assert_allclose(K, expected, atol=1e-12)
    assert np.allclose(np.diag(K[:, :15]), 1.0)


def test_inner_split_is_a_stratified_partition_of_train():
    d = load_ace("CHEMBL4616_EC50")
    ace = load_moleculeace("CHEMBL4616_EC50")
    assert np.array_equal(np.sort(np.concatenate([d.inner_train, d.inner_valid])), d.train)
    assert not set(d.inner_valid) & set(d.test)
    assert (ace.split.to_numpy()[d.test] == "test").all()
    # stratified on cliff_mol: the cliff share of the inner validation part is that of train
    assert abs(d.cliff[d.inner_valid].mean() - d.cliff[d.train].mean()) < 0.02
    np.testing.assert_array_equal(load_ace("CHEMBL4616_EC50").inner_valid, d.inner_valid)  # fixed seed


def test_cliff_rmse_uses_only_cliff_rows():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    s = ace_scores(y, y + np.array([0.0, 0.0, 3.0, 4.0]), np.array([False, False, True, True]))
    assert s["rmse_cliff"] == pytest.approx(np.sqrt((9 + 16) / 2))
    assert s["rmse"] == pytest.approx(np.sqrt((9 + 16) / 4))
    assert np.isnan(ace_scores(y, y, np.zeros(4, bool))["rmse_cliff"])


def test_selection_never_fits_or_predicts_test_rows():
    d = load_ace("CHEMBL2835_Ki")
    calls = []

    def fit_predict(params, seed, fit, pred):
        calls.append((params["c"], seed, fit, pred))
        return np.full(len(pred), d.y[fit].mean() + params["c"])

    res = select_then_seeds(d, fit_predict, [{"c": 3.0}, {"c": 0.0}], [5, 6], log=lambda m: None)
    assert res["chosen"] == "c=0.0" and set(res["selection"]) == {"c=3.0", "c=0.0"}
    selection_calls, final_calls = calls[:2], calls[2:]
    for _, seed, fit, pred in selection_calls:
        assert seed == 5 and not set(fit) & set(d.test) and not set(pred) & set(d.test)
        assert np.array_equal(pred, d.inner_valid)
    assert [(c, s) for c, s, _, _ in final_calls] == [(0.0, 5), (0.0, 6)]
    assert all(np.array_equal(f, d.train) and np.array_equal(p, d.test) for _, _, f, p in final_calls)
    assert len(res["runs"]) == 2 and res["runs"][0]["test"]["rmse"] > 0


def test_chemprop_sets_are_the_five_smallest():
    sizes = {n: len(load_moleculeace(n, return_X_y=True)[0]) for n in MOLECULEACE_DATASETS}
    assert set(ACE_CHEMPROP_SETS) == set(sorted(sizes, key=sizes.get)[:5])


def test_a_later_runs_models_merge_into_one_report(tmp_path):
    import json

    script = load_script("benchmarks/moleculeace.py")
    name = ACE_CHEMPROP_SETS[0]
    script.main(["--quick", "--sets", name, "--models", "svr", "--out", str(tmp_path / "a.md")])
    script.main(["--quick", "--sets", name, "--models", "rf", "--out", str(tmp_path / "b.md")])
    script.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "m.md")])
    merged = json.loads((tmp_path / "m.json").read_text())
    (res,) = merged["results"]
    assert sorted(res["models"]) == ["rf", "svr"] and merged["meta"]["models"] == ["svr", "rf"]
    parts = [json.loads((tmp_path / f).read_text())["results"][0]["models"] for f in ("a.json", "b.json")]
    assert res["models"]["svr"] == parts[0]["svr"] and res["models"]["rf"] == parts[1]["rf"]
    assert "| RF (1191 bits) | SVR (Tanimoto) |" in (tmp_path / "m.md").read_text()
    b = json.loads((tmp_path / "b.json").read_text())
    b["meta"]["seeds"] = [0, 1]
    (tmp_path / "b.json").write_text(json.dumps(b))
    with pytest.raises(ValueError, match="different seeds"):
        script.main(["--merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out", str(tmp_path / "x.md")])


def test_the_earlier_defaults_columns_fit_the_default_with_those_settings(tmp_path, monkeypatch):
    import json

    from chmr_sklearn.benchmark import _moleculeace as ace

    calls = []

    def fake_chmr(smiles, y, params, n_jobs, transformer):  # records the estimator settings; predicts a shifted mean
        def fit_predict(_, seed, fit, pred):
            calls.append(dict(params))
            shift = 0.5 * (params.get("n_heads") == 1) + 0.25 * (params.get("descriptors") is False)
            return np.full(len(pred), y[fit].mean() + shift + 0.125 * (params.get("rf_residual") == "auto"))
        return fit_predict

    monkeypatch.setattr(ace, "_chmr", fake_chmr)
    monkeypatch.setattr(ace, "cached_transformer", lambda smiles, cache, n_jobs: (None, 0.0))
    script = load_script("benchmarks/moleculeace.py")
    script.main(["--quick", "--sets", ACE_CHEMPROP_SETS[0], "--models", "chmr", "chmr_auto", "chmr_nodesc",
                 "chmr_1head", "--out", str(tmp_path / "r.md")])
    # the default's params leave rf_residual ("blend"), n_heads (2) and descriptors (True) to the
    # estimator; the extra columns are the earlier defaults
    auto = {"max_epochs": 10, "rf_residual": "auto"}
    assert calls == [{"max_epochs": 10}, auto, {**auto, "descriptors": False},
                     {**auto, "n_heads": 1, "descriptors": False}]
    (res,) = json.loads((tmp_path / "r.json").read_text())["results"]
    assert sorted(res["models"]) == ["chmr", "chmr_1head", "chmr_auto", "chmr_nodesc"]
    text = (tmp_path / "r.md").read_text()
    header = ('| CHMRRegressor() | CHMRRegressor(rf_residual="auto") '
              '| CHMRRegressor(rf_residual="auto", descriptors=False) '
              '| CHMRRegressor(rf_residual="auto", n_heads=1, descriptors=False) |')
    assert header in text
    # the worse shifted-mean columns lose: the default wins 1 of 1 against each
    assert ('vs CHMRRegressor(rf_residual="auto") 1/1, vs CHMRRegressor(rf_residual="auto", descriptors=False) 1/1, '
            'vs CHMRRegressor(rf_residual="auto", n_heads=1, descriptors=False) 1/1') in text
