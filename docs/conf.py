"""Sphinx configuration for chmr_sklearn (offline build: no intersphinx, no remote theme).

Build with ``sphinx-build -W -b html docs docs/_build/html`` from the repository root.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document the checkout, not an older installed copy
sys.path.insert(0, str(DOCS / "_ext"))  # local extensions: offline math, gallery hooks
# Examples that start ``python -m chmr_sklearn`` in a subprocess (save_load_cli.py) use the checkout too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
# The dataset loaders' docstrings point at the benchmark files; use the shared copy when present.
os.environ.setdefault("CHMR_DATA_HOME", str((ROOT.parent / "shared" / "data").resolve()))

import chmr_sklearn

project = "chmr_sklearn"
author = "chmr_sklearn developers"
copyright = "2026, chmr_sklearn developers"
release = version = chmr_sklearn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "chmr_mathsvg",
]
# Math as SVG images prerendered by matplotlib's mathtext: no MathJax CDN, no TeX install.
html_math_renderer = "chmr_mathsvg"
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = False  # the API pages are written by hand-free templates below
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # numpydoc's parameter lists already give the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Structural checks only (malformed docstrings fail the -W build); style checks such as "has a
# See Also section" are left out.
numpydoc_validation_checks = {
    "GL01", "GL03", "GL05", "GL06", "GL07", "GL08", "GL09", "GL10",  # layout, sections, missing docstring
    "SS01", "SS04",  # a summary line exists
    "PR02", "PR03", "PR05", "PR06", "PR10",  # documented parameters exist, in order, well formed
    "SA02", "SA04",  # See Also entries are described
}
# Class attributes documented by a ``#:`` comment: autodoc shows the comment, numpydoc's
# validation only sees the value's (absent) docstring.
numpydoc_validation_exclude = {r"\.GINVirtualNode\.dropout_generator$"}

# pydata-sphinx-theme, as scikit-learn uses: wide content column, code blocks that scroll
# instead of being cut, full-text search, light/dark, and a navbar slot for a version switcher.
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["chmr.css"]
html_title = f"chmr_sklearn {release}"
html_theme_options = {
    "navbar_end": ["version-switcher", "theme-switcher", "navbar-icon-links"],
    # A hosted site replaces json_url by its absolute switcher.json URL (one entry per version).
    "switcher": {"json_url": "_static/switcher.json", "version_match": release},
    "check_switcher": False,  # checking would fetch the URL: the build stays offline
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "faq": [], "benchmarks": [], "getting_started": []}

# -- Examples gallery -------------------------------------------------------------------------
# Each examples/*.py becomes a page with its text, code, printed output and the figures it
# writes, executed at build time as ``script.py --quick --out <tmp>`` (see _ext/chmr_gallery.py).
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    # Which examples run (default: all, not only plot_*.py); CHMR_GALLERY_PATTERN narrows it
    # while editing one page. ``-D plot_gallery=0`` renders the pages without running anything.
    "filename_pattern": os.environ.get("CHMR_GALLERY_PATTERN", r"\.py$"),
    "reset_argv": "chmr_gallery.reset_argv",
    "image_scrapers": ("chmr_gallery.out_dir_scraper",),
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    # The timing pages load jQuery/DataTables from a CDN; the build stays offline without them.
    "write_computation_times": False,
    "min_reported_time": 5,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
}

# -- API pages: every name in each subpackage's ``__all__`` -----------------------------------
# Each docs/api/<name>.rst holds only a title and ``.. chmr-api:: <module>``; the hook below
# expands it into an autosummary table plus the autodoc entries of ``__all__``, so a name added
# to ``__all__`` appears in the reference without editing the docs.


def _api_block(modname: str) -> str:
    try:
        module = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name != modname:
            raise
        # A module another part of the project is still adding: say so instead of failing.
        return f"``{modname}`` is not part of this version of the package."
    names = [n for n in getattr(module, "__all__", []) if not n.startswith("__")]
    objs = [(n, getattr(module, n)) for n in names]
    documented = [(n, o) for n, o in objs if inspect.isclass(o) or inspect.isfunction(o)]
    lines = [f".. automodule:: {modname}", "   :no-members:", "", ".. currentmodule:: " + modname, "",
             ".. autosummary::", ""]
    lines += [f"   {n}" for n, _ in documented]
    lines.append("")
    for n, obj in documented:
        kind = "autoclass" if isinstance(obj, type) else "autofunction"
        lines += [f".. {kind}:: {n}", ""]
    # Constants and ready-made objects (e.g. scorers) are listed with their value.
    constants = [n for n, o in objs if not (inspect.isclass(o) or inspect.isfunction(o))]
    if constants:
        lines += ["Constants and ready-made objects", "--------------------------------", ""]
        for n in constants:
            # py:data, not autodata: a tuple's "docstring" would be the tuple type's own.
            value = repr(getattr(module, n))
            if len(value) > 100 or " at 0x" in value:  # long or address-bearing: the type only
                value = type(getattr(module, n)).__name__
            lines += [f".. py:data:: {n}", f"   :value: {value}", ""]
    return "\n".join(lines)


def _expand_api(app, docname, source):
    text = source[0]
    marker = ".. chmr-api::"
    if marker not in text:
        return
    out = []
    for line in text.splitlines():
        if line.startswith(marker):
            out.append(_api_block(line[len(marker):].strip()))
        else:
            out.append(line)
    source[0] = "\n".join(out) + "\n"


# -- Benchmark results: inline every benchmarks/results/*.md present at build time ------------
# The result files are regenerated by the benchmark scripts, so the page is assembled when it
# is read. Readers come for the results, so the page leads with the downstream scores and their
# chart, then speed, then what pretraining contributes; inside each file the findings come
# first and the run details (the header's date/machine/command list and sections such as
# "Protocol" or "Per dataset") are folded into a closed <details> block at its end. Headings are
# shifted under the page's own, relative links become plain text and missing images are dropped,
# so no result file can break a ``-W`` build.
RESULTS = ROOT / "benchmarks" / "results"
_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")
# Sections of a results file that say how it was run rather than what it found.
_RUN_DETAILS = re.compile(r"^(protocol|details|per dataset|machine load|other runs|commands?|corpus|set-?up|"
                          r"environment|earlier invocation|run\b)", re.I)
# (page section, what it answers, result files in reading order); files not named go last.
_RESULT_GROUPS = [
    ("Downstream tasks", "Test scores of CHMR's heads against a random forest and an MLP on the same "
     "fingerprint bits and against chemprop, on identical scaffold splits, and the validation-split "
     "evidence for the heads' defaults.",
     ["downstream", "downstream_defaults", "downstream_cls_descriptors", "downstream_nheads4", "downstream_gamma1",
      "downstream_forest_leaf1", "downstream_fragments", "downstream_gentle", "downstream_chemprop50",
      "downstream_full_grids", "downstream_more_seeds", "moleculeace",
      "head_defaults", "head_defaults_refit", "head_defaults_offsets", "head_defaults_descriptors",
      "head_defaults_descriptors_cls", "head_defaults_epochs", "head_defaults_fragments", "head_defaults_blend",
      "auto_vs_forest"]),
    ("Speed and memory", "How fast embedding, featurization, fitting and streaming run, and what they "
     "cost against plain RDKit and scikit-learn references.",
     ["speed", "embed", "embed_current_rdkit", "featurize", "conformer_descriptors", "fit_threads", "streaming",
      "soak"]),
    ("What pretraining contributes", "Ablations of each part of the method and probes of the shipped "
     "encoder, and the validation-split choice of the shipped model.",
     ["ablations_gentle", "ablations", "pretraining_quality", "cell_awareness_gentle50", "cell_awareness_gentle",
      "cell_awareness_gentle_cpr_anchor", "cell_awareness_gentle_cpr_anchor_sca1",
      "cell_awareness_gentle_cpr_anchor_sca01", "cell_awareness_gentle_ppb128", "cell_awareness_lean50",
      "cell_awareness_lean75", "cell_awareness_lean50_profile10", "cell_awareness_lean50_profile100",
      "cell_awareness_ceiling",
      "cell_awareness",
      "cell_awareness.old_recipe", "model_selection", "model_selection_gentle_e30",
      "model_selection_fast", "model_selection_architectures", "model_selection_lean", "model_selection_lean12k",
      "model_selection_lean12k_seeds", "model_selection_lean12k_fixed", "model_selection_lean12k_lr3e4",
      "model_selection_full",
      "latent_probes", "latent_probes_steps", "latent_probes_sp"]),
]


def _fix_links(line: str, path: Path) -> str:
    def image(m):
        target = path.parent / m.group(2)
        if "://" in m.group(2) or not target.is_file():
            return m.group(1)
        return f"![{m.group(1)}]({os.path.relpath(target, DOCS)})"

    line = _IMAGE.sub(image, line)
    return _LINK.sub(lambda m: m.group(0) if "://" in m.group(2) else m.group(1), line)


def _shift(lines: list[str], path: Path, base: int, flatten: bool = False) -> list[str]:
    """Headings moved under level ``base`` (never skipping a level), or made bold (``flatten``)."""
    out, fenced, prev = [], False, base
    for line in lines:
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced:
            match = _HEADING.match(line)
            if match and flatten:
                line = f"**{match.group(2)}**"
            elif match:
                prev = level = min(len(match.group(1)) - 1 + base, prev + 1, 6)
                line = "#" * level + " " + match.group(2)
            line = _fix_links(line, path)
        out.append(line)
    return out


def _split_result(lines: list[str]) -> tuple[str, list[str], list[str], list[str]]:
    """A results file as (title, findings, header list, run-detail sections)."""
    title = lines[0][2:].strip() if lines and lines[0].startswith("# ") else ""
    rest = lines[1:] if title else lines
    i = 0
    while i < len(rest) and not rest[i].strip():
        i += 1
    header = []
    while i < len(rest) and (rest[i].startswith("- ") or (header and rest[i].startswith("  "))):
        header.append(rest[i])
        i += 1
    findings, details, current, fenced = [], [], None, False
    for line in rest[i:]:
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        if not fenced and line.startswith("## "):
            current = details if _RUN_DETAILS.match(line[3:].strip()) else findings
        (current if current is not None else findings).append(line)
    return title, findings, header, details


def _chart_after_first_table(findings: list[str], path: Path) -> list[str]:
    # A chart the file does not show itself (downstream.png) goes right under its first table.
    chart = path.with_suffix(".png")
    if not chart.is_file() or any(chart.name in line for line in findings):
        return findings
    for k, line in enumerate(findings):
        if line.startswith("|") and (k + 1 == len(findings) or not findings[k + 1].startswith("|")):
            return findings[:k + 1] + ["", f"![{path.stem} chart]({chart.name})", ""] + findings[k + 1:]
    return findings + ["", f"![{path.stem} chart]({chart.name})"]


def _inline_result(path: Path, base: int = 3) -> str:
    title, findings, header, details = _split_result(path.read_text(encoding="utf-8").splitlines())
    findings = _chart_after_first_table(findings, path)
    out = [f"{'#' * base} {title or path.stem}", "", f"*Source: `benchmarks/results/{path.name}`.*", ""]
    out += _shift(findings, path, base)
    if header or details:
        out += ["", '<details class="chmr-details">',
                "<summary>How this was run: date, machine and load, versions, commands, data</summary>", ""]
        out += _shift(header, path, base) + [""] + _shift(details, path, base, flatten=True)
        out += ["", "</details>", ""]
    return "\n".join(out)


def _results_body() -> str:
    files = {f.stem: f for f in sorted(RESULTS.glob("*.md"))}
    if not files:
        return "No result file in `benchmarks/results/` at build time."
    parts = []
    groups = _RESULT_GROUPS + [("More results", "", sorted(set(files) - {n for g in _RESULT_GROUPS for n in g[2]}))]
    for heading, intro, names in groups:
        present = [files[n] for n in names if n in files]
        if present:
            parts += [f"## {heading}", "", intro, ""] + [_inline_result(f) for f in present]
    return "\n\n".join(parts)


def _expand_results(app, docname, source):
    marker = "{chmr-benchmark-results}"
    if marker in source[0]:
        source[0] = source[0].replace(marker, _results_body())


# -- Guide pages written alongside the package (CLI, streaming, ...): listed when present ------
_CORE_GUIDES = ["featurizers", "profiles", "pretraining", "tree_codes", "estimators", "model_selection",
                "datasets"]
_EXTRA_ORDER = ["cli", "streaming", "distributed", "reproducibility"]


def _expand_guides(app, docname, source):
    marker = "{chmr-extra-guides}"
    if marker not in source[0]:
        return
    names = {p.stem for p in (DOCS / "guide").glob("*.md")} - set(_CORE_GUIDES) - {"index"}
    ordered = [n for n in _EXTRA_ORDER if n in names] + sorted(names - set(_EXTRA_ORDER))
    source[0] = source[0].replace(marker, "\n".join(ordered))


# ``[[guide:cli|the CLI guide]]`` links a guide page another part of the project writes when
# the page exists, and stays plain text otherwise, so a page still being written breaks nothing.
_GUIDE_LINK = re.compile(r"\[\[guide:([a-z_]+)\|([^\]]+)\]\]")


def _expand_guide_links(app, docname, source):
    def link(match):
        page, text = match.groups()
        if (DOCS / "guide" / f"{page}.md").is_file():
            return f"{{doc}}`{text} </guide/{page}>`"
        return text

    source[0] = _GUIDE_LINK.sub(link, source[0])


def _skip_metadata_requests(app, what, name, obj, skip, options):
    # sklearn generates set_{fit,score,...}_request methods whose docstrings reference
    # sklearn's own glossary; they are routing plumbing, documented by scikit-learn.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _write_switcher(app, exception):
    # The version switcher's list for an offline build: this version only. A hosted site serves
    # one switcher.json listing every published version instead (theme option json_url).
    if exception is None and app.builder.format == "html":
        entry = {"name": release, "version": release, "url": "./"}
        (Path(app.outdir) / "_static" / "switcher.json").write_text(json.dumps([entry]), encoding="utf-8")


def setup(app):
    app.connect("build-finished", _write_switcher)
    app.connect("source-read", _expand_api)
    app.connect("source-read", _expand_results)
    app.connect("source-read", _expand_guides)
    app.connect("source-read", _expand_guide_links)
    app.connect("autodoc-skip-member", _skip_metadata_requests)
