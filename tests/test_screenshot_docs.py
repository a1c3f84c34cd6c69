"""scripts/screenshot_docs.py: built pages rendered in headless Chromium show math and figures as images.

The full check builds the documentation and needs Chromium (``apt-get install -y chromium``),
so it is ``slow`` (``pytest -m slow tests/test_screenshot_docs.py``, ~1 min CPU); without
Chromium it fails, it does not skip. The checks' logic is tested on its own by default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _scripts import load_script

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "screenshot_docs.py"


def _load():
    return load_script("scripts/screenshot_docs.py")


def test_checks_flag_raw_tex_missing_and_broken_images():
    shots = _load()
    loaded = {"src": "../_images/math/ab.svg", "cls": "chmr-math", "natural": [390, 17]}
    assert shots.check_page({"images": [loaded], "text": "L = λ1 L_SCA"}, [], math=True) == []
    problems = shots.check_page({"images": [], "text": r"\[\mathcal{L} = 1\]"}, ["architecture.svg"], math=True)
    assert problems == ["raw TeX is visible in the text", "no image 'architecture.svg'",
                        "no equation image (img.chmr-math)"]
    broken = {"src": "_images/architecture.svg", "cls": "", "natural": [0, 0]}
    assert shots.check_page({"images": [broken], "text": ""}, ["architecture.svg"], math=False) == [
        "image 'architecture.svg' did not load"]


def test_missing_chromium_or_pages_is_an_error(tmp_path, capsys):
    shots = _load()
    assert shots.main(["--html", str(tmp_path), "--chromium", str(tmp_path / "no-chromium")]) == 2
    assert "no Chromium found" in capsys.readouterr().err


@pytest.mark.slow
def test_built_pages_render_math_and_figures_as_images(tmp_path):
    shots = _load()
    assert shots.find_chromium(), "Chromium is needed: apt-get install -y chromium"
    env = dict(os.environ, CHMR_GALLERY_PATTERN=r"visualize_embeddings\.py$", MPLBACKEND="Agg")
    html = tmp_path / "html"
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
                            str(REPO / "docs"), str(html)], cwd=REPO, env=env, capture_output=True, text=True,
                           timeout=900, check=False)
    assert build.returncode == 0, build.stderr[-3000:]
    done = subprocess.run([sys.executable, str(SCRIPT), "--html", str(html), "--out", str(tmp_path / "shots")],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "shots" / "report.json").read_text())
    assert set(report) == set(shots.PAGES)
    maths = [i for i in report["guide/pretraining.html"]["images"] if "chmr-math" in i["cls"]]
    assert maths and all(i["natural"][0] > 100 for i in maths)  # an equation, drawn
    figure = [i for i in report["auto_examples/visualize_embeddings.html"]["images"] if "sphx_glr" in i["src"]]
    assert figure and figure[0]["natural"][0] >= 1000  # the 11-inch map at 110 dpi
