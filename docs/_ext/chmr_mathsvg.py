"""Sphinx HTML math renderer: LaTeX prerendered to SVG files by matplotlib's mathtext.

Why: MathJax and KaTeX run in the reader's browser and are fetched from a CDN unless bundled, so
an offline build shows raw ``\\mathcal{L}``; ``sphinx.ext.imgmath`` needs ``latex`` and
``dvisvgm`` binaries. matplotlib (already a dependency of the examples) parses the TeX subset
used in these docs and writes glyphs as SVG paths, so the images need no font and no network.

Enable with ``extensions += ["chmr_mathsvg"]`` and ``html_math_renderer = "chmr_mathsvg"``.
An equation mathtext cannot parse fails the build with a warning naming the document (use
simpler TeX: no ``aligned`` environments; write several equations separated by a blank line).
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

logger = logging.getLogger(__name__)

_GREEK = {name: chr(code) for name, code in [
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5),
    ("eta", 0x3B7), ("theta", 0x3B8), ("lambda", 0x3BB), ("mu", 0x3BC), ("sigma", 0x3C3),
    ("tau", 0x3C4), ("phi", 0x3C6), ("gamma", 0x3B3), ("Sigma", 0x3A3), ("cdot", 0x22C5),
    ("sum", 0x2211), ("leq", 0x2264), ("geq", 0x2265), ("times", 0xD7), ("to", 0x2192)]}
_SPACES = re.compile(r"\\(qquad|quad|[ ,;:!])")
_COMMAND = re.compile(r"\\([A-Za-z]+)")
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)  # holds a timestamp: not reproducible
_SIZE = re.compile(r'width="([\d.]+)pt" height="([\d.]+)pt"')


def plain_text(latex: str) -> str:
    """Readable text for an equation's ``alt``: no backslash commands, no braces.

    Parameters
    ----------
    latex : str
        The TeX source.

    Returns
    -------
    str
        The same formula as plain text (Greek letters as Unicode), for screen readers and search.

    Examples
    --------
    >>> plain_text(r"\\mathcal{L} = \\lambda_1 \\mathcal{L}_{\\mathrm{SCA}}")
    'L = λ_1 L_SCA'
    """
    text = _SPACES.sub(" ", latex)
    text = _COMMAND.sub(lambda m: _GREEK.get(m.group(1), ""), text)
    text = text.replace("{", "").replace("}", "").replace("&", "")
    return re.sub(r"\s+", " ", text).strip()


def render_svg(latex: str, fontsize: float) -> tuple[str, float, float, float]:
    """Render one TeX formula with matplotlib's mathtext.

    Parameters
    ----------
    latex : str
        The formula, without ``$`` delimiters.
    fontsize : float
        Font size in CSS pixels.

    Returns
    -------
    svg : str
        The SVG document, without its timestamped metadata.
    width, height, depth : float
        The image size and the depth below the baseline, in pixels.

    Examples
    --------
    >>> svg, width, height, depth = render_svg(r"\\lambda_1 = 10", 16)
    >>> svg.lstrip().startswith("<?xml") and width > height > 0
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import mathtext
    from matplotlib.font_manager import FontProperties

    buffer = io.BytesIO()
    formula = "$" + " ".join(latex.split()) + "$"  # mathtext reads one line
    # The SVG is sized in points (1 CSS px = 0.75 pt): render at the size in points, report pixels.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "chmr", "mathtext.fontset": "cm"}):
        depth = mathtext.math_to_image(formula, buffer, prop=FontProperties(size=fontsize * 0.75), dpi=72,
                                       format="svg")
    svg = _METADATA.sub("", buffer.getvalue().decode("utf-8"), count=1)
    match = _SIZE.search(svg)
    width, height = (float(match.group(1)), float(match.group(2))) if match else (0.0, 0.0)
    return svg, width / 0.75, height / 0.75, float(depth) / 0.75


def _image_tag(self, latex: str, fontsize: float, css: str) -> str:
    # Files are named by content, so an unchanged formula is written once and cached by browsers.
    key = hashlib.sha1(f"{fontsize}:{latex}".encode()).hexdigest()[:16]
    try:
        svg, width, height, depth = render_svg(latex, fontsize)
    except ValueError as exc:  # mathtext's parse errors
        logger.warning("mathtext cannot render %r: %s", latex, str(exc).splitlines()[0],
                       location=self.builder.current_docname if hasattr(self.builder, "current_docname") else None)
        return f'<span class="{css} chmr-math-error">{html.escape(plain_text(latex))}</span>'
    folder = Path(self.builder.outdir) / "_images" / "math"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{key}.svg").write_text(svg, encoding="utf-8")
    src = f"{self.builder.imgpath}/math/{key}.svg"
    style = f"width: {width:.1f}px; height: {height:.1f}px; vertical-align: {-depth:.1f}px"
    return (f'<img class="{css}" src="{src}" alt="{html.escape(plain_text(latex))}" '
            f'style="{style}"/>')


def visit_math(self, node: nodes.Element) -> None:
    """Inline math: an SVG image sitting on the text's baseline."""
    self.body.append(_image_tag(self, node.astext(), 16, "math chmr-math"))
    raise nodes.SkipNode


def visit_displaymath(self, node: nodes.Element) -> None:
    """Display math: one centred SVG per equation (blank-line separated), with its number."""
    self.body.append(self.starttag(node, "div", CLASS="math chmr-displaymath"))
    if node.get("number"):
        from sphinx.util.math import get_node_equation_number

        self.body.append(f'<span class="eqno">({get_node_equation_number(self, node)})')
        self.add_permalink_ref(node, "Link to this equation")
        self.body.append("</span>")
    parts = [p for p in re.split(r"\n\s*\n|\\\\", node.astext()) if p.strip()]
    for part in parts:
        self.body.append("<p>" + _image_tag(self, part, 17, "chmr-math") + "</p>")
    self.body.append("</div>\n")
    raise nodes.SkipNode


def setup(app):
    """Register the renderer (select it with ``html_math_renderer = "chmr_mathsvg"``)."""
    app.add_html_math_renderer("chmr_mathsvg", (visit_math, None), (visit_displaymath, None))
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
