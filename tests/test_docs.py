"""The documentation builds offline with warnings as errors and contains the key pages.

The build runs the gallery for two examples only (``GALLERY_EXECUTED``, about 25 s of CPU
between them; ``tests/test_examples.py`` runs every example as a script): the other gallery
pages show their text and code without output. ``sphinx-build docs ...`` without the
``CHMR_GALLERY_PATTERN`` variable runs them all.
"""

from __future__ import annotations

import ast
import html
import json
import os
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
# Examples the docs test executes in the gallery: two that draw figures, the cheapest ones.
GALLERY_EXECUTED = ["visualize_embeddings", "multitask_missing_labels"]
GUIDES = ["featurizers", "profiles", "pretraining", "tree_codes", "estimators", "model_selection", "datasets"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, worker_id) -> Path:
    """The HTML build, made once per test run.

    Under pytest-xdist the tests of this module may run on both workers; two builds at once
    would write the gallery into the same ``docs/auto_examples`` and fail on each other's
    half-written files. So the first worker builds into the run's shared temporary folder under
    a file lock, and the other one reads that build.
    """
    if worker_id == "master":  # no xdist: a private build
        return _build(tmp_path_factory.mktemp("docs"))
    from filelock import FileLock  # installed with torch

    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, above the workers' own
    with FileLock(str(shared / "docs.lock")):
        done = shared / "docs" / "built"  # written after a successful build only
        if not done.is_file():
            _build(shared / "docs")
            done.touch()
    return shared / "docs" / "html"


def _build(out: Path) -> Path:
    env = dict(os.environ, CHMR_GALLERY_PATTERN="(" + "|".join(GALLERY_EXECUTED) + r")\.py$",
               MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        check=False, cwd=REPO, capture_output=True, text=True, timeout=600, env=env,
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
    for page in ["index", "getting_started", "faq", "benchmarks", "auto_examples/index", "guide/index", "api/index"]:
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


def test_every_example_is_a_gallery_page(built):
    index = (built / "auto_examples" / "index.html").read_text(encoding="utf-8")
    scripts = sorted(p.stem for p in (REPO / "examples").glob("*.py"))
    assert scripts
    for stem in scripts:
        page = built / "auto_examples" / f"{stem}.html"
        assert page.is_file(), stem
        assert f'href="{stem}.html"' in index, stem
        text = _text(page)
        # the example's own title (its docstring's first line) and its code
        title = (REPO / "examples" / f"{stem}.py").read_text(encoding="utf-8").splitlines()[0].strip('"')
        assert title[:40] in text, stem
        assert "parser.add_argument(\"--quick\"" in text, stem


@pytest.mark.parametrize("stem", GALLERY_EXECUTED)
def test_gallery_shows_output_and_figures(built, stem):
    page = (built / "auto_examples" / f"{stem}.html").read_text(encoding="utf-8")
    images = re.findall(r'<img[^>]+src="([^"]*sphx_glr_' + stem + r'_\d+\.png)"', page)
    assert images, f"{stem}: no figure on its gallery page"
    for src in images:
        png = (built / "auto_examples" / src).resolve()
        assert png.is_file() and png.stat().st_size > 10_000, src
    assert "sphx-glr-script-out" in page, f"{stem}: the printed output is missing"
    assert "wrote " in _text_of(page)  # the script's last print: it ran to the end


def test_math_is_prerendered_images(built):
    pages = sorted(built.rglob("*.html"))
    raw = [p.relative_to(built) for p in pages
           if re.search(r"\\mathcal|\\\[|\\begin\{|\$\$", p.read_text(encoding="utf-8"))]
    assert not raw, f"raw LaTeX in {raw}"
    source = (built / "guide" / "pretraining.html").read_text(encoding="utf-8")
    images = re.findall(r'<img class="chmr-math" src="([^"]+\.svg)" alt="([^"]*)"', source)
    assert images, "the objective is not an image"
    svg = (built / "guide" / images[0][0]).resolve().read_text(encoding="utf-8")
    assert "<path" in svg and "<text" not in svg  # glyphs as outlines: no font needed to view
    assert "λ" in images[0][1] and "\\" not in images[0][1]  # readable alt text


def test_offline_no_remote_scripts_or_styles(built):
    remote = re.compile(r'<(?:script|link|img)[^>]+(?:src|href)="(?:https?:)?//[^"]+"')
    found = {str(p.relative_to(built)): remote.findall(p.read_text(encoding="utf-8"))
             for p in built.rglob("*.html")}
    found = {k: v for k, v in found.items() if v}
    assert not found, found
    assert not any("mathjax" in p.name.lower() for p in built.rglob("*.js"))


def test_theme_for_api_docs(built):
    source = (built / "api" / "estimators.html").read_text(encoding="utf-8")
    assert "pydata-sphinx-theme" in source  # the theme's stylesheet
    assert "chmr.css" in source and "version-switcher" in source
    css = (built / "_static" / "chmr.css").read_text(encoding="utf-8")
    assert re.search(r"div\.highlight pre\s*\{[^}]*overflow-x:\s*auto", css)  # code scrolls, never cut
    switcher = json.loads((built / "_static" / "switcher.json").read_text(encoding="utf-8"))
    assert switcher and {"name", "version", "url"} <= set(switcher[0])
    assert (built / "search.html").is_file() and (built / "searchindex.js").is_file()


def test_benchmarks_page_leads_with_results(built):
    page = (built / "benchmarks.html").read_text(encoding="utf-8")
    page = page[page.index("<article"):]
    if not (REPO / "benchmarks" / "results" / "downstream.md").is_file():
        pytest.fail("benchmarks/results/downstream.md is missing")
    order = [page.index('id="downstream-tasks"'), page.index('id="speed-and-memory"'),
             page.index('id="what-pretraining-contributes"'), page.index('id="how-these-numbers-were-measured"')]
    assert order == sorted(order)
    first_table, first_image, first_details = page.index("<table"), page.index("<img"), page.index("<details")
    assert first_table < first_image < first_details
    assert "downstream.png" in page[first_image:first_image + 300]
    # Run commands are folded away: every "command:" line sits inside a <details> block.
    folded = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    assert "command:" in page and "command:" not in _text_of(folded)


def _text_of(source: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", source))


# Wording about who ran a job (people, teams), which results and comments must not contain:
# they describe the machine (cores, load average, other processes) and nothing else.
_WHO = re.compile(r"\bengineers?\b|\bteam(?:mates?|s)?\b|\bcolleagues?\b|\bco-?workers?\b|"
                  r"shared (?:by|with) (?:\d+|other (?:people|users|engineers))\b|/work/team\b", re.I)


def _wording_files() -> list[Path]:
    files = [REPO / "README.md", *(REPO / "benchmarks" / "results").glob("*.md"),
             *(REPO / "benchmarks").glob("*.py"), *(REPO / "examples").glob("*.py"),
             *(REPO / "chmr_sklearn").rglob("*.py"), *(REPO / "scripts").glob("*.py")]
    files += [p for p in DOCS.rglob("*") if p.suffix in {".md", ".rst", ".py", ".txt"}
              and "_build" not in p.parts and "auto_examples" not in p.parts]
    return sorted(p for p in files if p.is_file())


def test_results_and_comments_describe_the_machine_not_the_people():
    hits = [f"{p.relative_to(REPO)}:{n}: {line.strip()[:120]}"
            for p in _wording_files()
            for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
            if _WHO.search(line)]
    assert not hits, "wording about who ran a job:\n" + "\n".join(hits)


def test_wording_check_catches_the_old_phrasing():
    # The phrases the results files used before: the check must flag each of them.
    for phrase in ["(2 cores shared by 8 engineers; run under nice)", "shared with other engineers' jobs",
                   "2 cores shared with 7 other engineers", "transcribed from /work/team/logs/x.log"]:
        assert _WHO.search(phrase), phrase
    for phrase in ["load average at start 15.8 (other processes were running)", "shared by every estimator"]:
        assert not _WHO.search(phrase), phrase


def test_faq_answers_the_common_questions(built):
    text = _text(built / "faq.html")
    for topic in ["invalid SMILES", "GPU", "reproducible", "memory", "Input y contains NaN", "pretrained on",
                  "beat the random forest"]:
        assert topic in text, topic
