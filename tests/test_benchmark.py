"""chmr_sklearn.benchmark: report structure, one split for every model, selection blind to test."""

from __future__ import annotations

import json
import platform

import numpy as np
import pytest
import torch
from _scripts import load_script
from sklearn.utils import Bunch

from chmr_sklearn.benchmark import (
    DATASETS,
    MODELS,
    load_split,
    run_downstream,
    split_digest,
)

N = 100  # the first ESOL molecules: a quick run stays within seconds


def _esol_subset(permute_test: bool = False):
    """Loader of the first N ESOL molecules; optionally with the test split's labels shuffled."""
    full = DATASETS["esol"](drop_invalid=True)
    data, target = full.data.iloc[:N].reset_index(drop=True), full.target.iloc[:N].reset_index(drop=True).copy()
    if permute_test:
        split = load_split("esol_sub", lambda drop_invalid: Bunch(
            data=data, target=target, target_names=full.target_names, metric=full.metric,
            split_protocol=full.split_protocol, n_invalid_dropped=0)).split
        te = split[2]
        target.iloc[te] = np.random.default_rng(0).permutation(target.iloc[te].to_numpy())

    def loader(drop_invalid=True):
        return Bunch(data=data, target=target, target_names=full.target_names, metric=full.metric,
                     split_protocol=full.split_protocol, n_invalid_dropped=0)

    return loader


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "downstream.md"
    kw = {"seeds": (0, 1), "quick": True, "n_jobs": 1, "chemprop": False, "log": lambda m: None}
    plain = run_downstream([("esol_sub", _esol_subset())], out=out, **kw)
    permuted = run_downstream([("esol_sub", _esol_subset(permute_test=True))], **kw)
    return out, plain["results"][0], permuted["results"][0]


def test_report_structure(runs):
    out, res, _ = runs
    text = out.read_text()
    assert "| esol_sub (MAE) |" in text and "## Where we win and lose" in text
    assert out.with_suffix(".png").stat().st_size > 0
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["results"][0]["name"] == "esol_sub" and saved["meta"]["seeds"] == [0, 1]
    assert set(res["models"]) == set(MODELS)
    assert res["models"]["chemprop"]["status"] == "not run"
    for model in ("chmr", "chmr_rf", "chmr_default", "fp_mlp", "rf"):
        block = res["models"][model]
        assert block["status"] == "ok"
        chosen = block["runs"][block["chosen"]]
        assert [r["seed"] for r in chosen] == [0, 1]  # the chosen point ran on every seed
        assert all(np.isfinite(r["test"]["mae"]) and r["test"]["mae"] > 0 for r in chosen)
    # the head grid has two points: both tried on the first seed, only the chosen one on seed 1
    assert len(res["models"]["chmr"]["runs"]) == 2
    # the shipped defaults: one setting, nothing chosen, the "auto" decision recorded per seed
    defaults = res["models"]["chmr_default"]
    assert len(defaults["runs"]) == 1 and defaults["selection"] == {}
    assert all(isinstance(r["rf_residual"], bool) for r in defaults["runs"][defaults["chosen"]])
    # the regressor blends its variants: each head's weights are recorded (and sum to 1)
    for head in (h for r in defaults["runs"][defaults["chosen"]] for h in r["heads"]):
        assert set(head["weights"]) == {"false", "true"} and sum(head["weights"].values()) == pytest.approx(1, abs=1e-3)
    header = next(line for line in text.splitlines() if line.startswith("| dataset"))
    assert "| CHMR defaults |" in header


def test_defaults_params_change_the_defaults_column_and_name_it(runs):
    """A candidate default (``defaults_params``) reaches the estimator and is named in the chosen point."""
    _, res, _ = runs
    kw = {"seeds": (0,), "quick": True, "n_jobs": 1, "chemprop": False, "log": lambda m: None,
          "models": ("chmr_default",)}
    alt = run_downstream([("esol_sub", _esol_subset())], defaults_params={"descriptors": False}, **kw)
    alt = alt["results"][0]["models"]["chmr_default"]
    assert alt["chosen"] == "defaults (QUICK: max_epochs=10, patience=3, rf_n_estimators=50, descriptors=False)"
    base = res["models"]["chmr_default"]
    assert base["chosen"] == "defaults (QUICK: max_epochs=10, patience=3, rf_n_estimators=50)"
    # CHMRRegressor's default learns from the descriptors too: without them the same seed predicts otherwise
    assert alt["runs"][alt["chosen"]][0]["test"]["mae"] != base["runs"][base["chosen"]][0]["test"]["mae"]


def test_report_protocol_names_a_candidate_default(runs, tmp_path):
    """The protocol line says "exactly as shipped" only when no parameter was changed."""
    from chmr_sklearn.benchmark._report import write_report

    _, res, _ = runs
    meta = {"date": "2026-01-01", "seeds": [0], "quick": False, "chemprop_executable": None}
    base = res["models"]["chmr_default"]
    runs_ = base["runs"][base["chosen"]]

    def block(pid, params):
        return dict(base, chosen=pid, params={pid: params}, runs={pid: runs_})

    for b, expect, absent in ((block("defaults (n_heads=4)", {"n_heads": 4}), "`CHMRRegressor(n_heads=4)`",
                               "exactly as shipped"), (block("defaults", {}), "exactly as shipped", "n_heads=4")):
        result = dict(res, models={**res["models"], "chmr_default": b})
        text = write_report({"meta": meta, "results": [result]}, tmp_path / "r.md").read_text()
        protocol = text.split("## Protocol")[1]
        assert expect in protocol and absent not in protocol


def test_downstream_script_parses_defaults_params_as_literals():
    parse = load_script("benchmarks/downstream.py")._params
    assert parse(["descriptors=True", "n_heads=3", "rf_offsets=scaffold", "lr=1e-3"]) == {
        "descriptors": True, "n_heads": 3, "rf_offsets": "scaffold", "lr": 1e-3}
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        parse(["descriptors"])


def test_one_split_for_every_model(runs):
    _, res, _ = runs
    tr, va, te = (np.asarray(p) for p in res["split_indices"])
    assert len(np.intersect1d(tr, te)) == 0 and len(np.intersect1d(va, te)) == 0
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(N))
    digests = {r["split"] for block in res["models"].values() for rs in block["runs"].values() for r in rs}
    assert digests == {split_digest((tr, va, te))}


def test_test_labels_never_select(runs):
    _, res, permuted = runs
    assert permuted["split_indices"] == res["split_indices"]
    for model in ("chmr", "chmr_rf", "fp_mlp", "rf"):
        a, b = res["models"][model], permuted["models"][model]
        assert a["chosen"] == b["chosen"]
        assert a["selection"] == pytest.approx(b["selection"])  # validation scores untouched
    # the defaults fit on the training rows alone: their validation scores are untouched too
    a, b = (m["models"]["chmr_default"] for m in (res, permuted))
    assert [r["valid"] for r in a["runs"][a["chosen"]]] == [r["valid"] for r in b["runs"][b["chosen"]]]
    # ...while the test scores did see the shuffled labels
    a = res["models"]["rf"]["runs"][res["models"]["rf"]["chosen"]][0]["test"]["mae"]
    b = permuted["models"]["rf"]["runs"][permuted["models"]["rf"]["chosen"]][0]["test"]["mae"]
    assert a != pytest.approx(b)


@pytest.mark.slow
@pytest.mark.parametrize("module", ["_data", "_models", "_chemprop", "_report", "_run", "__init__"])
def test_docstring_examples(module):
    import doctest
    import importlib

    mod = importlib.import_module("chmr_sklearn.benchmark" + ("" if module == "__init__" else f".{module}"))
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# ---- soak (benchmarks/soak.py) ------------------------------------------------------------------
def test_soak_counts_revisits_as_memory_hits_and_grows_the_disk_cache(smiles_200, tmp_path):
    from chmr_sklearn.benchmark import run_soak, soak_summary

    result = run_soak(smiles_200[:40], request_size=20, revisit=0.5, cache_size=1, cache_dir=tmp_path / "c",
                      log=lambda m: None)
    samples = result["samples"]
    assert [s["distinct"] for s in samples] == [0, 10, 20, 30, 40]
    # 40 rows fit in 1 MB: every revisit is a memory hit, every new molecule a miss
    assert samples[-1]["hits"] == samples[-1]["revisits"] == 30 and samples[-1]["misses"] == 40
    assert samples[-1]["disk_mb"] > samples[1]["disk_mb"] > 0  # every new molecule is written to disk
    summary = soak_summary(result)
    assert summary["revisit_hit_rate"] == 1.0 and 7 < summary["disk_kb_per_molecule"] < 40


def test_soak_summary_tells_a_leak_from_noise():
    from chmr_sklearn.benchmark import soak_summary

    def result(rss):
        return {"settings": {"cache_size_mb": 10}, "samples": [
            {"distinct": 1000 * i, "rss_mb": rss(i), "cache_mb": 10.0, "hits": i, "misses": i, "revisits": i,
             "requested": 2 * i, "disk_mb": 0.0, "elapsed": 1.0 + i, "children_rss_mb": 0.0} for i in range(40)]}

    rng = np.random.default_rng(0)
    noisy = soak_summary(result(lambda i: 800 + 5 * rng.standard_normal()))
    leaking = soak_summary(result(lambda i: 800 + 2.0 * i + 5 * rng.standard_normal()))  # 2 MB per 1,000
    assert noisy["flat"] is True and abs(noisy["slope_mb_per_10k"]) < 5
    assert leaking["flat"] is False and 15 < leaking["slope_mb_per_10k"] < 25
    assert noisy["warmup_molecules"] == 4000  # never before 10 % of the requests
    assert noisy["plateau"] is False and leaking["plateau"] is False
    stepped = soak_summary(result(lambda i: 800 + (60 if i > 15 else 0) + 5 * rng.standard_normal()))
    assert stepped["flat"] is False and stepped["plateau"] is True  # grew once (high-water mark), then flat


_FAKE_CHEMPROP = """#!{python}
import pathlib, sys
import pandas as pd
args = sys.argv[1:]
with open({log!r}, "a") as fh:
    fh.write(" ".join(args) + "\\n")
out = pathlib.Path(args[args.index("-o") + 1])
if args[0] == "train":  # the "model" remembers its seed
    (out / "model_0").mkdir(parents=True, exist_ok=True)
    (out / "model_0" / "best.pt").write_text(args[args.index("--pytorch-seed") + 1])
else:  # predict: the constant 1 + seed for every row, in the order given
    rows = pd.read_csv(args[args.index("-i") + 1])
    rows["t0"] = 1.0 + float(pathlib.Path(args[args.index("--model-paths") + 1]).read_text())
    rows.to_csv(out, index=False)
"""


def _fake_chemprop(tmp_path, monkeypatch):
    """Install the fake chemprop CLI as $CHMR_CHEMPROP; returns the file its argv lines go to."""
    import sys

    log = tmp_path / "argv.log"
    exe = tmp_path / "chemprop"
    exe.write_text(_FAKE_CHEMPROP.format(python=sys.executable, log=str(log)))
    exe.chmod(0o755)
    monkeypatch.setenv("CHMR_CHEMPROP", str(exe))
    return log


@pytest.mark.parametrize("patience, flag", [(None, False), (7, True)])
def test_chemprop_runs_at_its_defaults_unless_told(tmp_path, monkeypatch, patience, flag):
    """The downstream plan gives chemprop its own budget (50 epochs, no early-stopping patience),
    and fit_chemprop passes --patience only when asked."""
    from chmr_sklearn.benchmark._chemprop import fit_chemprop
    from chmr_sklearn.benchmark._run import plan

    assert all((plan(n)["chemprop_epochs"], plan(n)["chemprop_patience"]) == (50, None)
               for n in ("esol", "lipophilicity", "broad6k", "toxcast", "hiv"))
    log = _fake_chemprop(tmp_path, monkeypatch)
    data = load_split("esol_sub", _esol_subset())
    r = fit_chemprop(data, 0, tmp_path / "work", patience=patience)
    train = log.read_text().splitlines()[0].split()
    assert train[train.index("--epochs") + 1] == "50"
    assert ("--patience" in train) is flag and (not flag or train[train.index("--patience") + 1] == "7")
    assert r["test"]["mae"] == pytest.approx(np.abs(data.Y[data.split[2], 0] - 1.0).mean())


@pytest.mark.parametrize("kw, expected", [({}, "cpu"), ({"accelerator": "gpu"}, "gpu")])
def test_chemprop_accelerator_reaches_train_and_predict(tmp_path, monkeypatch, kw, expected):
    """fit_chemprop hands --accelerator to both chemprop commands (a predict left on the default
    device, or a GPU run recorded as CPU, would break here)."""
    from chmr_sklearn.benchmark._chemprop import fit_chemprop

    log = _fake_chemprop(tmp_path, monkeypatch)
    r = fit_chemprop(load_split("esol_sub", _esol_subset()), 0, tmp_path / "work", **kw)
    commands = [line.split() for line in log.read_text().splitlines()]
    assert [c[0] for c in commands] == ["train", "predict"]
    assert all(c[c.index("--accelerator") + 1] == expected for c in commands)
    assert r["accelerator"] == expected


def test_chemprop_rejects_an_unknown_accelerator_before_running(tmp_path, monkeypatch):
    """An accelerator chemprop does not know ("cuda" is torch's name, not Lightning's) fails at
    once, before any chemprop process starts."""
    from chmr_sklearn.benchmark._chemprop import fit_chemprop

    log = _fake_chemprop(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="accelerator must be 'cpu' or 'gpu'"):
        fit_chemprop(load_split("esol_sub", _esol_subset()), 0, tmp_path / "work", accelerator="cuda")
    assert not log.exists()


def test_merge_runs_pools_chemprop_seeds_into_one_report(tmp_path, monkeypatch):
    """Two processes, one chemprop seed each (given out of order), merge into one column over both
    seeds: runs sorted by seed, meta seeds the union, and the report's mean over both seeds (a merge
    that kept one part's runs, or a report that lost the GPU note or machine line, breaks here)."""
    from chmr_sklearn.benchmark import merge_runs
    from chmr_sklearn.benchmark._report import write_report

    _fake_chemprop(tmp_path, monkeypatch)
    kw = {"quick": True, "models": ("chemprop",), "chemprop_accelerator": "gpu", "log": lambda m: None}
    parts = [run_downstream([("esol_sub", _esol_subset())], seeds=(s,), **kw) for s in (1, 0)]
    merged = merge_runs(parts, ["esol_sub"])
    assert merged["meta"]["seeds"] == [0, 1] and merged["meta"]["chemprop_accelerator"] == "gpu"
    block = merged["results"][0]["models"]["chemprop"]
    runs = block["runs"][block["chosen"]]
    assert [r["seed"] for r in runs] == [0, 1] and {r["accelerator"] for r in runs} == {"gpu"}
    data = load_split("esol_sub", _esol_subset())
    y = data.Y[data.split[2], 0]
    maes = [r["test"]["mae"] for r in runs]
    assert maes == pytest.approx([np.abs(y - 1.0).mean(), np.abs(y - 2.0).mean()])  # each seed's own model
    text = write_report(merged, tmp_path / "merged.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| esol_sub (MAE) |"))
    assert f"{np.mean(maes):.3f} ± {np.std(maes, ddof=1):.3f}" in row
    assert ", GPU" in text and "seeds [0, 1]" in text
    # the header names each merged run: its machine (from machine_info) and command
    runs = [line for line in text.splitlines() if line.startswith("  - ")]
    cpu = merged["meta"]["runs"][0]["machine"]["cpu"]
    assert len(runs) == 2 and all(f"{cpu}, " in line and " cores" in line and "`" in line for line in runs)
    # ...with the library versions that run used (not the renderer's), as does a single run's header
    import rdkit
    import sklearn

    versions = f"python {platform.python_version()}, torch {torch.__version__}, rdkit {rdkit.__version__}, " \
               f"scikit-learn {sklearn.__version__}"
    assert all(f"({versions}, chmr_sklearn " in line for line in runs)
    assert "- library versions: each run's, below; chemprop CLI: " in text
    single = write_report(parts[0], tmp_path / "single.md").read_text().splitlines()
    assert single[3].startswith(f"- {versions}, chmr_sklearn ") and "; chemprop CLI: " in single[3]
    old_run = {**parts[0], "meta": {k: v for k, v in parts[0]["meta"].items() if k != "machine"}}
    assert "- versions not recorded; chemprop CLI" in write_report(old_run, tmp_path / "old.md").read_text()
    # ...and its first line gives the span of the runs, not the first run's date and load as the report's
    dates = sorted(run["date"] for run in merged["meta"]["runs"])
    assert text.splitlines()[2].startswith(f"- merged from 2 runs made {dates[0]} to {dates[-1]}; each run's "
                                           "date, machine, load and wall time below")


def _part(seed: int, chosen: str = "p") -> dict:
    """A minimal finished run_downstream result: one chemprop run on ``seed`` at grid point ``chosen``."""
    run = {"seed": seed, "valid": {"mae": 1.0}, "test": {"mae": 1.0 + seed}, "fit_seconds": 1.0}
    block = {"status": "ok", "chosen": chosen, "params": {chosen: {}}, "runs": {chosen: [run]}, "selection": {}}
    return {"meta": {"seeds": [seed], "command": f"seed {seed}", "wall_seconds": 1.0},
            "results": [{"name": "esol", "status": "done", "models": {"chemprop": block}}]}


def test_merge_runs_refuses_a_repeated_seed_or_different_choices():
    """Pooling must not count a seed twice, nor mix runs of two grid points into one mean."""
    from chmr_sklearn.benchmark import merge_runs

    with pytest.raises(ValueError, match=r"esol chemprop: seed\(s\) \[0\] in more than one run"):
        merge_runs([_part(0), _part(0)], ["esol"])
    with pytest.raises(ValueError, match="esol chemprop: two runs chose different grid points"):
        merge_runs([_part(0, "a"), _part(1, "b")], ["esol"])
    parts = [_part(1), _part(0)]
    merged = merge_runs(parts, ["esol"])  # the same minimal parts pool fine
    assert [r["seed"] for r in merged["results"][0]["models"]["chemprop"]["runs"]["p"]] == [0, 1]
    # ...and stay as they were: the same parts merge again (e.g. into a second report) without a repeated seed
    assert parts == [_part(1), _part(0)]
    assert merge_runs(parts, ["esol"]) == merged


def test_merged_header_names_each_datasets_seeds_and_every_chemprop_cli():
    """A merge of runs over different seeds per dataset must not claim the union of seeds for every
    dataset, nor name only the first run's chemprop executable."""
    from chmr_sklearn.benchmark import merge_runs
    from chmr_sklearn.benchmark._report import _seeds_text, _versions

    bace = _part(3)
    bace["results"][0]["name"] = "bace"
    bace["meta"]["chemprop_executable"] = "/a/chemprop"
    hiv = [_part(3), _part(4)]
    for part in hiv:
        part["results"][0]["name"] = "hiv"
    hiv[1]["meta"]["chemprop_executable"] = "/b/chemprop"
    merged = merge_runs([bace, *hiv], ["bace", "hiv"])
    assert _seeds_text(merged["meta"], merged["results"]) == "over each dataset's seeds (bace [3]; hiv [3, 4])"
    assert _versions(merged["meta"]).endswith("chemprop CLI: /a/chemprop, /b/chemprop")
    # a merge of merges keeps every executable; one seed set for all datasets reads as before
    again = merge_runs([merged, _part(5)], ["bace", "hiv", "esol"])
    assert again["meta"]["chemprop_executable"] == ["/a/chemprop", "/b/chemprop"]
    same = merge_runs([_part(1), _part(0)], ["esol"])
    assert _seeds_text(same["meta"], same["results"]) == "over seeds [0, 1]"
    assert _versions(same["meta"]).endswith("chemprop CLI: not installed")
