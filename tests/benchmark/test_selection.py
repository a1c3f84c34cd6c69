"""benchmarks/model_selection.py: a quick run's report, test rows never embedded, --reuse, the controls."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from _scripts import load_script

from chmr_sklearn.benchmark import _selection as S
from chmr_sklearn.benchmark import load_split
from chmr_sklearn.estimators.transformer import DEFAULT_MODEL
from chmr_sklearn.pretrain.checkpoint import load_checkpoint

NAMES = ["shipped", "random_init", "fingerprint"]


def _script():
    return load_script("benchmarks/model_selection.py")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """One quick run of the script on the shipped model; every embedded SMILES recorded."""
    tmp = tmp_path_factory.mktemp("selection")
    embedded = []
    represent = S._represent

    def recording(paths, smiles, cache_dir, n_jobs):
        embedded.extend(smiles)
        return represent(paths, smiles, cache_dir, n_jobs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(S, "_represent", recording)
        _script().main(["--quick", f"--candidate=shipped={DEFAULT_MODEL}", "--out", str(tmp / "sel.md"),
                        "--cache-dir", str(tmp / "cache")])
    return tmp, json.loads((tmp / "sel.json").read_text()), set(embedded)


def test_quick_run_reports_every_representation_with_scores_in_range(quick):
    tmp, report, _ = quick
    assert list(report["meta"]["candidates"]) == ["shipped"] and report["meta"]["quick"] is True
    assert report["meta"]["sessions"][0]["cores"] >= 1 and report["meta"]["load_end"]
    assert report["meta"]["head_params"]["regression"]["lr"] == 1e-4
    assert list(report["results"]) == ["bace", "esol"]
    for name, res in report["results"].items():
        assert list(res["candidates"]) == NAMES
        assert (res["n_fit"], res["n_valid"]) == (S.QUICK["n_train"], S.QUICK["n_valid"])
        assert set(res["timing"]["embed"]) == set(res["timing"]["heads"]) == set(NAMES)
        for cand in res["candidates"].values():
            (s,) = cand["scores"]  # one seed in quick mode
            assert 1 <= cand["epochs"][0] <= S.QUICK["max_epochs"]
            if name == "bace":
                assert 0.3 < s["roc_auc"] <= 1.0 and cand["mean"] == s["roc_auc"]
            else:
                assert 0.1 < s["mae"] < 5.0 and math.isfinite(s["rmse"]) and s["rmse"] >= s["mae"]
    summary = report["summary"]
    assert summary["classification_sets"] == ["bace"] and set(summary["mean_roc_auc"]) == set(NAMES)
    verdict = summary["beats_random_init"]["shipped"]
    assert verdict["complete"] is False and isinstance(verdict["met"], bool) and math.isfinite(verdict["auc_gain"])
    text = (tmp / "sel.md").read_text()
    assert "QUICK smoke run" in text and "shipped beats random_init by >= 1.0" in text and "| bace |" in text


def test_only_train_and_validation_rows_are_embedded(quick):
    _, report, embedded = quick
    for name in report["results"]:
        d = load_split(name)
        (tr, va, te), smiles = d.split, d.smiles
        assert embedded.isdisjoint(smiles[te])
        assert len(embedded & set(smiles[np.concatenate([tr, va])])) == S.QUICK["n_train"] + S.QUICK["n_valid"]


def test_reuse_keeps_finished_datasets_and_refuses_another_comparison(quick, monkeypatch):
    tmp, report, _ = quick
    monkeypatch.setattr(S, "run_dataset", lambda *a, **k: pytest.fail("a finished dataset was run again"))
    again = S.run_selection({"shipped": DEFAULT_MODEL}, out=tmp / "sel.md", cache_dir=tmp / "cache", quick=True,
                            reuse=True, log=lambda m: None)
    assert again["results"] == report["results"] and len(again["meta"]["sessions"]) == 2
    with pytest.raises(ValueError, match="other checkpoints, seeds or head settings"):
        S.run_selection({"shipped": DEFAULT_MODEL}, out=tmp / "sel.md", cache_dir=tmp / "cache", quick=True,
                        reuse=True, seeds=[5], log=lambda m: None)


def test_random_init_keeps_the_architecture_and_scaler_not_the_weights(tmp_path):
    state = torch.random.get_rng_state()
    a = load_checkpoint(S.random_init_like(DEFAULT_MODEL, tmp_path / "a.pt"))
    b = load_checkpoint(S.random_init_like(DEFAULT_MODEL, tmp_path / "b.pt"))
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is untouched
    shipped = load_checkpoint(DEFAULT_MODEL)
    assert a["spec"] == dict(shipped["spec"], recon_dims=None)
    np.testing.assert_array_equal(a["scaler"].mean, shipped["scaler"].mean)
    weights = [k for k, v in shipped["model"].items() if v.is_floating_point() and v.ndim == 2]
    assert weights and all(torch.equal(a["model"][k], b["model"][k]) for k in weights)  # seeded
    assert not any(torch.equal(a["model"][k], shipped["model"][k]) for k in weights)


def test_candidates_are_checked_before_the_run(tmp_path):
    with pytest.raises(ValueError, match="name=path"):
        S.parse_candidates([str(DEFAULT_MODEL)])
    with pytest.raises(ValueError, match="given twice"):
        S.parse_candidates([f"a={DEFAULT_MODEL}", f"a={DEFAULT_MODEL}"])
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        S.parse_candidates([f"new={tmp_path / 'missing.pt'}"])


def test_a_candidate_beats_the_reference_only_on_every_front():
    def res(auc_a, auc_b, mae_a, mae_b):
        return {"bace": {"candidates": {"a": {"mean": auc_a}, "b": {"mean": auc_b}, "random_init": {"mean": 0.5}}},
                "esol": {"candidates": {"a": {"mean": mae_a}, "b": {"mean": mae_b}, "random_init": {"mean": 9.0}}}}

    assert S.summarize(res(0.80, 0.81, 1.0, 0.9), ["a", "b"])["beats_reference"]["b"]["met"]
    assert not S.summarize(res(0.80, 0.81, 1.0, 1.1), ["a", "b"])["beats_reference"]["b"]["met"]  # worse MAE
    assert not S.summarize(res(0.80, 0.80, 1.0, 0.9), ["a", "b"])["beats_reference"]["b"]["met"]  # a tie
    gain = S.summarize(res(0.509, 0.51, 1.0, 1.0), ["a", "b"])["beats_random_init"]
    assert not gain["a"]["met"] and gain["b"]["met"]  # 0.9 vs 1.0 ROC-AUC points over random_init


def test_a_seed_group_is_judged_on_its_mean_within_the_margin():
    res = {"bace": {"candidates": {"ref": {"mean": 0.800}, "s0": {"mean": 0.805}, "s1": {"mean": 0.789},
                                   "random_init": {"mean": 0.79}}},
           "esol": {"candidates": {"ref": {"mean": 0.70}, "s0": {"mean": 0.72}, "s1": {"mean": 0.66},
                                   "random_init": {"mean": 0.71}}}}
    groups = {"recipe": ["s0", "s1"]}
    g = S.summarize(res, ["ref", "s0", "s1"], groups, margin=0.3)["groups"]["recipe"]
    assert g["mean_roc_auc"] == pytest.approx(79.7) and g["mae"]["esol"] == pytest.approx(0.69)
    assert g["non_inferior"]["met"] and g["non_inferior"]["auc_gain"] == pytest.approx(-0.3)
    assert not S.summarize(res, ["ref", "s0", "s1"], groups, margin=0.2)["groups"]["recipe"]["non_inferior"]["met"]
    res["esol"]["candidates"]["s1"]["mean"] = 0.70  # mean MAE 0.71: worse than the reference
    assert not S.summarize(res, ["ref", "s0", "s1"], groups, margin=0.3)["groups"]["recipe"]["non_inferior"]["met"]
    # Neither member alone beats the reference on every front; only the group rule can pass.
    assert not S.summarize(res, ["ref", "s0", "s1"])["beats_reference"]["s0"]["met"]


def test_seed_groups_are_checked_reported_and_can_be_added_on_reuse(quick, monkeypatch):
    tmp, _, _ = quick
    with pytest.raises(ValueError, match="unknown members \\['nope'\\]"):
        S.run_selection({"shipped": DEFAULT_MODEL}, out=tmp / "g.md", cache_dir=tmp / "cache", quick=True,
                        groups={"g": ["shipped", "nope"]}, log=lambda m: None)
    monkeypatch.setattr(S, "run_dataset", lambda *a, **k: pytest.fail("a finished dataset was run again"))
    again = S.run_selection({"shipped": DEFAULT_MODEL}, out=tmp / "sel.md", cache_dir=tmp / "cache", quick=True,
                            reuse=True, groups={"pair": ["shipped", "random_init"]}, margin=0.5, log=lambda m: None)
    assert again["meta"]["groups"] == {"pair": ["shipped", "random_init"]} and again["meta"]["margin"] == 0.5
    assert again["summary"]["groups"]["pair"]["members"] == ["shipped", "random_init"]
    assert "pair (mean of 2 pretraining seeds: shipped, random_init) is within 0.5" in (tmp / "sel.md").read_text()
    with pytest.raises(SystemExit):
        _script().main(["--quick", "--seed-group", "broken", "--out", str(tmp / "x.md")])


def test_random_init_control_can_copy_another_candidate(quick, tmp_path):
    _, report, _ = quick
    assert report["meta"]["random_init"]["from"] == "shipped"  # default: the first candidate
    with pytest.raises(ValueError, match=r"random_init_from='fast' is not a candidate"):
        S.run_selection({"shipped": DEFAULT_MODEL}, out=tmp_path / "x.md", cache_dir=tmp_path, quick=True,
                        random_init_from="fast")
    assert not (tmp_path / "x.json").exists()
