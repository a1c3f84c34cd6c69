"""The documentation builds offline with warnings as errors and contains the key pages."""

from __future__ import annotations

import ast
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"

# Every public subpackage whose ``__all__`` must appear in the API reference.
API_PAGES = {
    "estimators": "chmr_sklearn.estimators",
    "featurize": "chmr_sklearn.featurize",
    "profiles": "chmr_sklearn.profiles",
    "nn": "chmr_sklearn.nn",
    "pretrain": "chmr_sklearn.pretrain",
    "datasets": "chmr_sklearn.datasets",
    "model_selection": "chmr_sklearn.model_selection",
    "cli": "chmr_sklearn.cli",
    "streaming": "chmr_sklearn.streaming",
    "benchmark": "chmr_sklearn.benchmark",
}
GUIDES = ["featurizers", "profiles", "pretraining", "tree_codes", "estimators", "model_selection", "datasets"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("docs")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"sphinx-build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return out / "html"


def _public_names(modname: str) -> list[str]:
    # Read ``__all__`` from the source (no import: torch would cost seconds in this process).
    base = REPO.joinpath(*modname.split("."))
    init = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return [n for n in ast.literal_eval(node.value) if not n.startswith("__")]
    raise AssertionError(f"{init} has no __all__")


def _text(path: Path) -> str:
    # Tags removed without a space: highlighted code is split into one <span> per token.
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_pages_exist(built):
    for page in ["index", "getting_started", "faq", "benchmarks", "examples", "guide/index", "api/index"]:
        assert (built / f"{page}.html").is_file(), page
    for guide in GUIDES:
        assert (built / "guide" / f"{guide}.html").is_file(), guide
    # Guide pages written by other parts of the project are picked up whenever they exist.
    for extra in sorted(set((DOCS / "guide").glob("*.md")) - {DOCS / "guide" / "index.md"}):
        assert (built / "guide" / f"{extra.stem}.html").is_file(), extra.name
        assert f'href="{extra.stem}.html"' in (built / "guide" / "index.html").read_text(encoding="utf-8")


def test_getting_started_has_the_two_commands(built):
    text = _text(built / "getting_started.html")
    assert 'pip install . && chmr demo' in text
    assert 'pip install ".[test]" && pytest' in text


def test_architecture_figure_is_shipped(built):
    svg = built / "_images" / "architecture.svg"
    assert svg.is_file()
    assert "Tree-VQ" in svg.read_text(encoding="utf-8")
    assert "architecture.svg" in (built / "index.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("page,modname", sorted(API_PAGES.items()))
def test_every_public_name_has_an_api_entry(built, page, modname):
    source = (built / "api" / f"{page}.html").read_text(encoding="utf-8")
    missing = [name for name in _public_names(modname) if f'id="{modname}.{name}"' not in source]
    assert not missing, f"{page}.html lacks {missing}"


def test_api_entries_render_numpydoc_sections(built):
    text = _text(built / "api" / "estimators.html")
    assert "Parameters" in text and "Examples" in text
    assert "tree_codes" in text and "validation_data" in text


def test_benchmark_results_are_included(built):
    text = _text(built / "benchmarks.html")
    results = sorted((REPO / "benchmarks" / "results").glob("*.md"))
    for path in results:
        assert f"benchmarks/results/{path.name}" in text
        first_heading = next(line for line in path.read_text(encoding="utf-8").splitlines()
                             if line.startswith("#"))
        # Inline code and emphasis markers do not survive rendering.
        title = first_heading.lstrip("# ").strip().replace("`", "").replace("*", "")
        assert title[:40] in text, path.name


def test_examples_page_lists_the_scripts(built):
    text = _text(built / "examples.html")
    scripts = sorted(p.name for p in (REPO / "examples").glob("*.py"))
    assert scripts
    for name in scripts:
        assert name in text, name


def test_faq_answers_the_common_questions(built):
    text = _text(built / "faq.html")
    for topic in ["invalid SMILES", "GPU", "reproducible", "memory", "Input y contains NaN", "pretrained on"]:
        assert topic in text, topic
