"""sphinx-gallery hooks: run every example as ``script.py --quick --out DIR`` and show its figures.

The examples are plain scripts that write their figures into ``--out`` (matplotlib figures and
RDKit drawings alike), so the gallery shows exactly the files a reader gets by running them:
after each code block, :func:`out_dir_scraper` collects the PNG files that appeared in the
example's output folder. Referenced from ``conf.py`` by name (``"chmr_gallery.reset_argv"``) so
the configuration stays picklable.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

_OUT_ROOT: Path | None = None
_SEEN: dict[str, set[str]] = {}


def out_dir(src_file: str) -> Path:
    """The ``--out`` folder of one example for this build (a temporary folder, removed at exit).

    Parameters
    ----------
    src_file : str
        The example's path.

    Returns
    -------
    pathlib.Path
        An existing, initially empty folder.

    Examples
    --------
    >>> out_dir("examples/quickstart_pipeline.py").name
    'quickstart_pipeline'
    """
    global _OUT_ROOT
    if _OUT_ROOT is None:
        _OUT_ROOT = Path(tempfile.mkdtemp(prefix="chmr_gallery_"))
        atexit.register(shutil.rmtree, _OUT_ROOT, ignore_errors=True)
    path = _OUT_ROOT / Path(src_file).stem
    path.mkdir(parents=True, exist_ok=True)
    return path


def reset_argv(gallery_conf: dict, script_vars: dict) -> list[str]:
    """Command-line arguments of an example in the gallery: quick mode, a temporary output folder.

    Parameters
    ----------
    gallery_conf : dict
        sphinx-gallery's configuration (unused).
    script_vars : dict
        Holds the example's ``src_file``.

    Returns
    -------
    list of str
        ``["--quick", "--out", DIR]``.

    Examples
    --------
    >>> reset_argv({}, {"src_file": "examples/visualize_embeddings.py"})[:2]
    ['--quick', '--out']
    """
    folder = out_dir(script_vars["src_file"])
    _SEEN[script_vars["src_file"]] = set()
    return ["--quick", "--out", str(folder)]


def out_dir_scraper(block, block_vars: dict, gallery_conf: dict) -> str:
    """Copy the PNG files an example wrote since the last block into the gallery's images.

    Parameters
    ----------
    block : tuple
        The code block just run (unused).
    block_vars : dict
        sphinx-gallery's per-example state: ``src_file`` and ``image_path_iterator``.
    gallery_conf : dict
        sphinx-gallery's configuration (``src_dir`` for relative paths).

    Returns
    -------
    str
        reST showing the new figures (empty when there are none).

    Examples
    --------
    >>> out_dir_scraper(None, {"src_file": "examples/none.py", "image_path_iterator": iter([])},
    ...                 {"src_dir": "."})
    ''
    """
    import matplotlib.pyplot as plt
    from sphinx_gallery.scrapers import figure_rst

    plt.close("all")  # the scripts save their figures; open ones would only hold memory
    src = block_vars["src_file"]
    seen = _SEEN.setdefault(src, set())
    folder = out_dir(src)
    new = sorted(p for p in folder.glob("*.png") if p.name not in seen)
    copied = []
    for png, target in zip(new, block_vars["image_path_iterator"]):
        shutil.copyfile(png, target)
        seen.add(png.name)
        copied.append(target)
    return figure_rst(copied, gallery_conf["src_dir"]) if copied else ""
