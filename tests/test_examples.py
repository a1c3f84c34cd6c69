"""Every script in examples/ runs in quick mode, writes its files and prints a sane key result.

Each example runs as a user would run it: ``python examples/<name>.py --quick --out DIR`` in a
fresh process, with the real data found through ``CHMR_DATA_HOME``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
DATA_HOME = Path(os.environ["CHMR_DATA_HOME"])  # set by tests/conftest.py


def run_example(name: str, out: Path) -> str:
    """Run one example in quick mode; its stdout (the test fails with its stderr on error)."""
    env = dict(os.environ)
    env["CHMR_DATA_HOME"] = str(DATA_HOME)  # the benchmark files (tests/conftest.py's default)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])  # this checkout, not an install
    env["MPLBACKEND"] = "Agg"
    env["OMP_NUM_THREADS"] = "1"  # the test machine's cores are shared: extra threads only contend
    done = subprocess.run([sys.executable, str(EXAMPLES / name), "--quick", "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=600, cwd=out, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout


def number(pattern: str, text: str) -> float:
    """The number captured by ``pattern`` in ``text`` (the test fails when it is not printed)."""
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in the output:\n{text}"
    return float(match.group(1))


def check_png(path: Path, min_size: tuple[int, int], min_bytes: int = 10_000) -> None:
    assert path.is_file(), f"{path.name} was not written"
    assert path.stat().st_size > min_bytes, f"{path.name} is only {path.stat().st_size} bytes"
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] >= min_size[0] and image.size[1] >= min_size[1], image.size
        # not a blank canvas: a plot or a drawing has many distinct colours
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 50


def test_quickstart_pipeline(tmp_path):
    out = run_example("quickstart_pipeline.py", tmp_path)
    chmr = number(r"CHMR pipeline\s+test ROC-AUC: ([\d.]+)", out)
    rf = number(r"RandomForest on fingerprints\s+test ROC-AUC: ([\d.]+)", out)
    assert 0 <= chmr <= 1 and 0 <= rf <= 1
    scores = pd.read_csv(tmp_path / "quickstart_scores.csv")
    assert scores.model.tolist() == ["CHMR pipeline", "RandomForest on fingerprints"]
    assert abs(scores.test_roc_auc - [chmr, rf]).max() <= 5e-4 + 1e-9  # the printed values, rounded


def test_grid_search_scaffold_cv(tmp_path):
    out = run_example("grid_search_scaffold_cv.py", tmp_path)
    assert 0 <= number(r"best scaffold-CV mean ROC-AUC: ([\d.]+)", out) <= 1
    # 2 grid points x 3 folds: each fold's train and test part, and the refit set, are embedded
    # once; without the memory= cache every grid point would embed them again (13).
    assert number(r"memory= cache: (\d+) distinct embedding sets", out) == 2 * 3 + 1
    assert number(r"distinct embedding sets for (\d+) embedding calls", out) == 2 * 2 * 3 + 1
    results = pd.read_csv(tmp_path / "cv_results.csv")
    assert len(results) == 2 and results.mean_test_score.between(0, 1).all()
    check_png(tmp_path / "cv_results.png", (600, 250))


def test_multitask_missing_labels(tmp_path):
    out = run_example("multitask_missing_labels.py", tmp_path)
    mean_auc = number(r"mean test ROC-AUC over \d+ tasks: ([\d.]+)", out)
    assert 0 <= mean_auc <= 1
    table = pd.read_csv(tmp_path / "per_task_roc_auc.csv")
    assert 30 <= len(table) <= 41  # ChEMBL2K's tasks that keep training labels in the subset
    assert (table.train_labels > 0).all()
    scored = table.dropna(subset=["test_roc_auc"])
    assert len(scored) == number(r"(\d+) of \d+ tasks have both classes", out)
    assert scored.test_roc_auc.between(0, 1).all()
    assert abs(scored.test_roc_auc.mean() - mean_auc) < 1e-3
    check_png(tmp_path / "per_task_roc_auc.png", (600, 400))


def test_pretrain_with_profiles(tmp_path):
    out = run_example("pretrain_with_profiles.py", tmp_path)
    n, *parts = (number(rf"{p} (\d+) {q}", out) for p, q in [("corpus:", "molecules"), (";", "with L1000"),
                                                               (",", "with Cell Painting"), (",", "with no profile")])
    assert max(parts) <= n <= sum(parts)  # union of the three molecule sets (duplicates once)
    full = number(r"CHMR \(all parts\).*BBBP test ROC-AUC: ([\d.]+)", out)
    ablated = number(r"use_tree_vq=False .*BBBP test ROC-AUC: ([\d.]+)", out)
    assert 0 <= full <= 1 and 0 <= ablated <= 1
    assert number(r"CHMR \(all parts\).*tree=([\d.]+)", out) > 0
    assert number(r"use_tree_vq=False .*tree=([\d.]+)", out) == 0  # the switch reached the loss
    table = pd.read_csv(tmp_path / "pretrain_ablation.csv")
    assert table.encoder.tolist() == ["CHMR (all parts)", "use_tree_vq=False"]


def test_visualize_embeddings(tmp_path):
    out = run_example("visualize_embeddings.py", tmp_path)
    assert 0 < number(r"explain ([\d.]+)% of the anchor variance", out) <= 100
    sizes = [int(n) for n in re.findall(r"\d+: (\d+)", out.split("level-1 tree code sizes:")[1].splitlines()[0])]
    assert sum(sizes) == 120 and len(sizes) >= 2
    check_png(tmp_path / "embedding_map.png", (1000, 450))


def test_interpret_tree_codes(tmp_path):
    out = run_example("interpret_tree_codes.py", tmp_path)
    for what in ("sharing a Murcko scaffold", "with the same BBBP label"):
        within = number(rf"pairs {what}: ([\d.]+) within a path", out)
        overall = number(rf"pairs {what}: [\d.]+ within a path vs ([\d.]+) overall", out)
        assert 0 <= within <= 1 and 0 <= overall <= 1
    paths = pd.read_csv(tmp_path / "tree_paths.csv")
    assert paths.molecules.sum() == 120 and (paths.scaffolds <= paths.molecules).all()
    check_png(tmp_path / "tree_path_molecules.png", (1000, 200))


def test_save_load_cli(tmp_path):
    out = run_example("save_load_cli.py", tmp_path)
    # Pickled models predict bit-identically in a fresh process, and the CLI trains the same model.
    assert number(r"max \|in-process - fresh-process\| prediction: (\S+)", out) == 0
    assert number(r"max \|python-trained - CLI-trained\| prediction: (\S+)", out) == 0
    assert number(r"\[python\] loaded the CLI model: test MAE ([\d.]+)", out) < 3  # pIC50 units
    for name in ("model.joblib", "model_cli.joblib", "preds_fresh.parquet", "train.csv", "test.csv"):
        assert (tmp_path / name).stat().st_size > 0, name
    preds = pd.read_parquet(tmp_path / "preds_fresh.parquet")
    assert list(preds.columns[:2]) == ["smiles", "id"] and preds.filter(like="_pred").notna().all().all()


def test_every_example_is_tested_and_listed():
    scripts = sorted(p.name for p in EXAMPLES.glob("*.py"))
    tested = sorted(name.removeprefix("test_") + ".py" for name in globals() if name.startswith("test_")
                    and (EXAMPLES / (name.removeprefix("test_") + ".py")).exists())
    assert scripts == tested, f"examples without a test: {sorted(set(scripts) - set(tested))}"
    readme = (EXAMPLES / "README.md").read_text()
    assert all(f"{name}" in readme for name in scripts), "every example needs a line in examples/README.md"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_has_docstring_and_cli(name):
    text = (EXAMPLES / name).read_text()
    assert text.startswith('"""'), f"{name} needs a module docstring saying what it shows"
    assert '"--quick"' in text and '"--out"' in text, f"{name} needs --quick and --out"
