"""Render built documentation pages in headless Chromium and check that math and figures are images.

A static check of the HTML cannot see what a reader sees: a figure whose file is missing, an
equation left as raw TeX for a script that never loads. This script opens pages of a built
site (``sphinx-build -b html docs docs/_build/html``) in headless Chromium, saves a screenshot
of each, and reads back, after the page has loaded, every image's natural size and the visible
text. By default it checks three pages:

* ``index.html``: the architecture figure is an image that loaded;
* ``guide/pretraining.html``: the objective is an SVG image (``img.chmr-math``) that loaded,
  and no raw TeX (``\\mathcal``, ``\\[``) is visible;
* ``auto_examples/visualize_embeddings.html``: the gallery figure is an image that loaded.

Chromium is the Debian package (``apt-get install -y chromium``); ``--chromium`` names another
binary. Usage::

    python scripts/screenshot_docs.py --html docs/_build/html --out /tmp/doc_shots

It writes ``<page>.png`` screenshots and ``report.json`` into ``--out``, prints one line per
check and exits with status 1 when a check fails (2 when Chromium or a page is missing).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# page -> the images it must show (a CSS class or a file-name fragment of the img's src)
PAGES = {
    "index.html": {"figures": ["architecture.svg"], "math": False},
    "guide/pretraining.html": {"figures": [], "math": True},
    "auto_examples/visualize_embeddings.html": {"figures": ["sphx_glr_visualize_embeddings_"], "math": False},
}
RAW_TEX = re.compile(r"\\mathcal|\\\[|\\begin\{|\$\$")
# Appended to a copy of the page: after load, write every image's state and the visible text
# into the DOM, which ``--dump-dom`` prints.
_PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images).map((img) => ({
    src: img.getAttribute("src") || "", cls: img.className || "",
    natural: [img.naturalWidth, img.naturalHeight], complete: img.complete,
    shown: [Math.round(img.getBoundingClientRect().width), Math.round(img.getBoundingClientRect().height)],
  }));
  const main = document.querySelector("main") || document.body;
  const out = document.createElement("pre");
  out.id = "chmr-probe";
  out.textContent = JSON.stringify({images: images, text: main.innerText});
  document.body.appendChild(out);
});
</script>
"""


def find_chromium(explicit: str | None = None) -> str | None:
    """The Chromium binary to use: ``explicit``, else the first of the usual names on ``PATH``.

    Parameters
    ----------
    explicit : str, optional
        A path or command name given by the user.

    Returns
    -------
    str or None
        The binary's path, or None when none is installed.

    Examples
    --------
    >>> find_chromium("/nonexistent/chromium") is None
    True
    """
    if explicit:
        return shutil.which(explicit)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def _chromium(binary: str, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
             "--disable-dev-shm-usage", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=timeout, check=False)


def probe_page(binary: str, page: Path, shot: Path, width: int = 1280, height: int = 2000) -> dict:
    """Screenshot one page and read its images' load state and visible text after load.

    Parameters
    ----------
    binary : str
        The Chromium binary.
    page : pathlib.Path
        A built HTML page.
    shot : pathlib.Path
        Where the screenshot goes (PNG).
    width, height : int
        The window size in CSS pixels.

    Returns
    -------
    dict
        ``images`` (src, class, natural and shown size of each ``<img>``) and ``text`` (the
        main content's visible text).

    Examples
    --------
    >>> binary = find_chromium()
    >>> binary is None or isinstance(binary, str)
    True
    """
    _chromium(binary, f"--screenshot={shot}", f"--window-size={width},{height}", page.resolve().as_uri())
    # The probe runs on a copy next to the original, so every relative link resolves the same.
    with tempfile.NamedTemporaryFile("w", suffix=".html", dir=page.parent, prefix=".probe_", delete=False,
                                     encoding="utf-8") as copy:
        copy.write(page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"))
    try:
        done = _chromium(binary, "--dump-dom", f"--window-size={width},{height}", Path(copy.name).as_uri())
    finally:
        Path(copy.name).unlink()
    match = re.search(r'<pre id="chmr-probe"[^>]*>(.*?)</pre>', done.stdout, re.S)  # the theme adds attributes
    if not match:
        return {"images": [], "text": "", "error": f"no probe output (exit {done.returncode}): {done.stderr[-300:]}"}
    import html

    return json.loads(html.unescape(match.group(1)))


def check_page(result: dict, figures: list[str], math: bool) -> list[str]:
    """The failed checks of one probed page (empty when it passes).

    Parameters
    ----------
    result : dict
        What :func:`probe_page` returned.
    figures : list of str
        Fragments of ``src`` attributes that must be loaded images.
    math : bool
        Whether the page has equations that must be loaded ``img.chmr-math`` images.

    Returns
    -------
    list of str
        One message per failed check.

    Examples
    --------
    >>> ok = {"images": [{"src": "a/architecture.svg", "cls": "", "natural": [600, 300]}], "text": "x"}
    >>> check_page(ok, ["architecture.svg"], math=False)
    []
    >>> check_page({"images": [], "text": "\\\\mathcal{L}"}, [], math=True)[0]
    'raw TeX is visible in the text'
    """
    problems = [result["error"]] if result.get("error") else []
    if RAW_TEX.search(result.get("text", "")):
        problems.append("raw TeX is visible in the text")
    images = result.get("images", [])
    for fragment in figures:
        hits = [i for i in images if fragment in i["src"]]
        if not hits:
            problems.append(f"no image {fragment!r}")
        elif not all(i["natural"][0] > 0 and i["natural"][1] > 0 for i in hits):
            problems.append(f"image {fragment!r} did not load")
    if math:
        maths = [i for i in images if "chmr-math" in i["cls"]]
        if not maths:
            problems.append("no equation image (img.chmr-math)")
        elif not all(i["natural"][0] > 0 for i in maths):
            problems.append("an equation image did not load")
    return problems


def _not_blank(png: Path) -> bool:
    from PIL import Image

    with Image.open(png) as image:
        return len(image.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 20


def main(argv: list[str] | None = None) -> int:
    """Run the checks; 0 when all pass, 1 when one fails, 2 when Chromium or a page is missing.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status.

    Examples
    --------
    >>> main(["--html", "/nonexistent", "--chromium", "/nonexistent/chromium"])
    2
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=Path("docs/_build/html"), help="the built site")
    parser.add_argument("--out", type=Path, default=Path("docs/_build/screenshots"), help="PNGs and report.json")
    parser.add_argument("--chromium", help="Chromium binary (default: chromium on PATH)")
    args = parser.parse_args(argv)
    binary = find_chromium(args.chromium)
    if binary is None:
        print("screenshot_docs: error: no Chromium found (apt-get install -y chromium, or --chromium PATH)",
              file=sys.stderr)
        return 2
    missing = [p for p in PAGES if not (args.html / p).is_file()]
    if missing:
        print(f"screenshot_docs: error: pages not built under {args.html}: {missing}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    report, failed = {}, False
    for page, want in PAGES.items():
        shot = args.out / (page.replace("/", "__").removesuffix(".html") + ".png")
        result = probe_page(binary, args.html / page, shot)
        problems = check_page(result, want["figures"], want["math"])
        if not shot.is_file() or not _not_blank(shot):
            problems.append("the screenshot is missing or blank")
        loaded = [i for i in result.get("images", []) if i["natural"][0] > 0]
        report[page] = {"screenshot": str(shot), "problems": problems, "images": result.get("images", [])}
        failed |= bool(problems)
        status = "ok" if not problems else "FAIL: " + "; ".join(problems)
        print(f"{page}: {len(loaded)}/{len(result.get('images', []))} images loaded, screenshot {shot.name}: {status}")
    (args.out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
