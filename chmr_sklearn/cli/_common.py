"""What every ``chmr`` subcommand shares: options, table I/O, and turning failures into one line.

A subcommand raises :class:`CLIError` (or a ``ValueError`` / ``OSError`` from the library) for
anything the user can fix; :func:`run_command` prints it as ``chmr <cmd>: error: ...`` and
returns exit code 2, so a chemist never sees a traceback for a bad file or a bad SMILES.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USAGE = 2  # argparse's code for bad usage; bad inputs are the user's to fix as well
EXIT_UNEXPECTED = 1
EXIT_INTERRUPTED = 130  # the shell convention for Ctrl-C
RESUMABLE = ("embed", "predict", "pretrain")  # commands that continue where an interrupted run stopped
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".csv.gz", ".tsv.gz")
_SHOWN = 20  # bad rows spelled out in a message; the count is always complete
_NA_TOKENS = ("", "na", "nan", "n/a", "null", "none", "-")


class CLIError(Exception):
    """An input problem the user can fix; printed as one line, exit code 2."""


# ---- options -----------------------------------------------------------------------------
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a float > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def add_runtime_options(parser: argparse.ArgumentParser, *, device: bool = True, seed: bool = True) -> None:
    """``--n-jobs``, ``--device``, ``--seed``: where and how reproducibly the work runs."""
    group = parser.add_argument_group("runtime")
    group.add_argument("--n-jobs", type=int, default=-1, metavar="J",
                       help="worker processes for featurization (-1: all cores; default: %(default)s)")
    if device:
        group.add_argument("--device", default="auto", metavar="D",
                           help="torch device: auto (CUDA when available), cpu, cuda, cuda:1 (default: auto)")
    if seed:
        group.add_argument("--seed", type=int, default=0, metavar="S",
                           help="random seed; the same seed gives the same result (default: %(default)s)")


def add_verbosity_options(parser: argparse.ArgumentParser) -> None:
    """``--quiet`` (no progress bars) and ``--debug`` (show the traceback of a failure)."""
    group = parser.add_argument_group("output")
    group.add_argument("-q", "--quiet", action="store_true", help="no progress bars or epoch tables")
    group.add_argument("--debug", action="store_true", help="on failure, raise with the full traceback")


def add_cache_option(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir``: embeddings kept on disk, so a rerun on the same molecules skips embedding."""
    parser.add_argument("--cache-dir", default=None, metavar="DIR",
                        help="keep embeddings in DIR/chmr_embeddings.sqlite and reuse them in later runs "
                             "(about 8 kB per molecule)")


def add_on_invalid_option(parser: argparse.ArgumentParser) -> None:
    """``--on-invalid raise|nan``: stop at invalid SMILES, or keep their rows with empty outputs."""
    parser.add_argument("--on-invalid", choices=("raise", "nan"), default="raise",
                        help="invalid SMILES: stop with their row numbers (raise, default) or keep the "
                             "rows with empty (NaN) outputs (nan)")


def verbosity(args: argparse.Namespace) -> int:
    """The ``verbose`` level handed to the estimators (progress bars unless ``--quiet``)."""
    return 0 if getattr(args, "quiet", False) else 1


def is_main_process() -> bool:
    """``False`` on the non-zero ranks of a ``torchrun`` launch (only rank 0 writes and prints)."""
    return int(os.environ.get("RANK", "0")) == 0


# ---- files -------------------------------------------------------------------------------
def _suffix(path: Path) -> str:
    """The extension, with the one before ``.gz`` for compressed files (``.csv.gz``)."""
    suffixes = [s.lower() for s in path.suffixes]
    return "".join(suffixes[-2:]) if suffixes[-1:] == [".gz"] else "".join(suffixes[-1:])


def check_suffix(path: str | os.PathLike, allowed: Sequence[str], *, what: str) -> Path:
    """``path`` as a Path, or a CLIError naming the allowed extensions."""
    path = Path(path)
    if _suffix(path) not in allowed:
        choice = allowed[0] if len(allowed) == 1 else f"one of {', '.join(allowed)}"
        raise CLIError(f"{what} {str(path)!r} must end with {choice}.")
    return path


def check_input_file(path: str | os.PathLike, allowed: Sequence[str], *, what: str) -> Path:
    """An existing, readable file with an allowed extension, or a CLIError saying which is not."""
    path = Path(path)
    if not path.exists():
        raise CLIError(f"{what} {str(path)!r} does not exist.")
    if path.is_dir():
        raise CLIError(f"{what} {str(path)!r} is a directory, not a file.")
    path = check_suffix(path, allowed, what=what)
    if not os.access(path, os.R_OK):
        raise CLIError(f"{what} {str(path)!r} is not readable (permissions).")
    return path


def read_table(path: str | os.PathLike, *, what: str = "input file", as_text: bool = False):
    """Read a .csv / .tsv (optionally .gz) or .parquet table with a header row.

    Parameters
    ----------
    path : str or path-like
    what : str
        How error messages call the file (e.g. ``"training file"``).
    as_text : bool
        Read every delimited-text cell as a string, blanks kept as ``""``, so that columns are
        copied to an output file exactly as written (``007`` stays ``007``).

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mols.csv"
    >>> _ = path.write_text("smiles,id\\nCCO,007\\n")
    >>> read_table(path, as_text=True).to_dict("records")
    [{'smiles': 'CCO', 'id': '007'}]
    """
    import pandas as pd

    path = check_input_file(path, TABLE_SUFFIXES, what=what)
    try:
        if _suffix(path) == ".parquet":
            frame = pd.read_parquet(path)
        else:
            sep = "\t" if _suffix(path).startswith(".tsv") else ","
            kwargs = {"dtype": str, "keep_default_na": False} if as_text else {}
            frame = pd.read_csv(path, sep=sep, **kwargs)
    except ImportError as err:  # parquet without pyarrow
        raise CLIError(f"cannot read {what} {str(path)!r}: {err}") from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError, ValueError) as err:
        raise CLIError(f"cannot read {what} {str(path)!r}: {str(err).strip().splitlines()[0]}") from err
    if len(frame) == 0:
        raise CLIError(f"{what} {str(path)!r} has no data rows.")
    return frame


def require_columns(frame, columns: Sequence[str], path: str | os.PathLike, *, what: str = "input file") -> None:
    """A CLIError naming the missing columns and the available ones."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        header = str(frame.columns[0])
        # A one-column frame whose name holds ';' or tabs: another separator than the extension's.
        hint = "" if frame.shape[1] > 1 or not any(sep in header for sep in ";\t|") else (
            "; the header looks split by another separator: save the file comma-separated as .csv "
            "(tab-separated as .tsv)")
        raise CLIError(f"{what} {str(path)!r} has no column(s) {', '.join(map(repr, missing))}; "
                       f"available columns: {available_columns(frame)}{hint}.")


def available_columns(frame) -> str:
    """The first 30 column names of ``frame``, for error messages."""
    return ", ".join(map(str, frame.columns[:30])) + (" ..." if frame.shape[1] > 30 else "")


def write_table(frame, path: Path) -> None:
    """Write .csv / .tsv / .parquet atomically: an interrupted run never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        suffix = _suffix(path)
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, sep="\t" if suffix.startswith(".tsv") else ",", index=False,
                         compression="gzip" if suffix.endswith(".gz") else None)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def resolve_model_path(model: str | None) -> str:
    """``--model``: ``"default"`` (shipped), a checkpoint file, or a ``chmr pretrain`` directory."""
    if model is None or model == "default":
        return "default"
    path = Path(model)
    if path.is_dir():
        path = path / "model.pt"
        if not path.is_file():
            raise CLIError(f"--model directory {model!r} holds no model.pt (write one with chmr pretrain).")
    elif not path.is_file():
        raise CLIError(f"--model {model!r} does not exist (a .pt checkpoint or a chmr pretrain directory).")
    return str(path)


def parse_numeric(frame, column: str, path: str | os.PathLike):
    """Column as float64 (blank / NA / nan -> NaN), or a CLIError naming the non-numeric rows."""
    import numpy as np
    import pandas as pd

    raw = frame[column]
    text = raw.astype(str).str.strip()
    missing = raw.isna() | text.str.lower().isin(_NA_TOKENS)
    values = pd.to_numeric(raw.where(~missing), errors="coerce").astype(np.float64)
    bad = np.flatnonzero(values.isna().to_numpy() & ~missing.to_numpy())
    if len(bad):
        raise CLIError(f"column {column!r} of {str(path)!r} is not numeric at {_rows(bad, raw.to_numpy())} "
                       "(leave a cell empty for a missing value).")
    return values.to_numpy()


def _rows(rows: Sequence[int], values: Sequence[Any]) -> str:
    """``data row(s) 3: 'x', 7: 'y'``: 1-based data rows (the header is not counted)."""
    shown = ", ".join(f"{r + 1}: {_short(values[r])}" for r in rows[:_SHOWN])
    more = "" if len(rows) <= _SHOWN else f", ... ({len(rows) - _SHOWN} more)"
    return f"{len(rows)} data row(s) [{shown}{more}]"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@contextmanager
def molecule_errors(values: Sequence[Any], column: str, path: str | os.PathLike, *,
                    hint: str = "pass --on-invalid nan to keep them with empty outputs") -> Iterator[None]:
    """Re-raise an :class:`InvalidMoleculeError` with the file, column and 1-based data rows."""
    from .._inputs import InvalidMoleculeError

    try:
        yield
    except InvalidMoleculeError as err:
        raise CLIError(f"invalid SMILES in column {column!r} of {str(path)!r} at {_rows(err.rows, values)} "
                       f"(data rows count from 1 after the header); fix or remove them, or {hint}.") from err


# ---- running -----------------------------------------------------------------------------
def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text or type(err).__name__


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a subcommand: its exit code, or one ``chmr <cmd>: error: ...`` line and exit code 2.

    Warnings become ``chmr <cmd>: warning: ...`` lines. ``--debug`` re-raises instead.
    """
    prog = f"chmr {args.command}"

    def show(message, category, filename, lineno, file=None, line=None):
        if is_main_process():  # under torchrun every rank would repeat it
            print(f"{prog}: warning: {_one_line(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        try:
            return func(args)
        except KeyboardInterrupt:
            if args.debug:
                raise
            resume = " (rerun the same command to resume)" if args.command in RESUMABLE else ""
            print(f"{prog}: interrupted{resume}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (CLIError, ValueError, OSError, FloatingPointError) as err:
            # ValueError: the library's input checks (invalid SMILES, NaN profiles, bad params);
            # OSError: unreadable / unwritable files; FloatingPointError: diverged pretraining.
            if args.debug:
                raise
            print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
            return EXIT_USAGE
        except Exception as err:  # the CLI promises no traceback without --debug
            if args.debug:
                raise
            from ..estimators._disk_cache import CacheError

            if isinstance(err, CacheError):  # an unusable --cache-dir file: the user's to fix
                print(f"{prog}: error: {_one_line(err)}", file=sys.stderr)
                return EXIT_USAGE
            print(f"{prog}: error: unexpected {type(err).__name__}: {_one_line(err)} "
                  "(rerun with --debug for the traceback)", file=sys.stderr)
            return EXIT_UNEXPECTED
