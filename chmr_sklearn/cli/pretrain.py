"""``chmr pretrain``: pretrain a CHMR encoder on your molecules and cell-profile tables.

Each ``--profiles NAME=PATH`` is one biological modality (e.g. ``morphology=cellpainting.csv``):
a table with a ``smiles`` column (else an ``inchikey`` column) and numeric feature columns;
other columns (ids, names) are ignored, several rows of one molecule are averaged. The molecules file lists
every pretraining molecule, profiled or not (missing profiles are filled by propagation).

``CKPT_DIR/last.pt`` is written after every epoch, so rerunning the same command after an
interruption resumes; ``CKPT_DIR/model.pt`` (the encoder alone) is what ``--model`` /
``CHMRTransformer(pretrained=...)`` load. Under ``torchrun`` the trainer runs data-parallel by
itself and only rank 0 writes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ._common import (
    TABLE_SUFFIXES,
    CLIError,
    add_on_invalid_option,
    add_runtime_options,
    add_verbosity_options,
    available_columns,
    check_input_file,
    is_main_process,
    molecule_errors,
    positive_float,
    positive_int,
    read_table,
    require_columns,
    verbosity,
)

HELP = "pretrain a CHMR encoder on molecules + cell profile tables"
MODEL_FILE = "model.pt"


def profile_spec(text: str) -> tuple[str, str]:
    """argparse type of ``--profiles``: ``NAME=PATH`` -> ``(name, path)``.

    Examples
    --------
    >>> profile_spec("morphology=data/cellpainting.csv")
    ('morphology', 'data/cellpainting.csv')
    """
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=PATH (e.g. morphology=cp.csv), got {text!r}")
    return name.strip(), path.strip()


def add_parser(sub) -> argparse.ArgumentParser:
    """Register ``chmr pretrain`` on the subparsers ``sub`` (from ``add_subparsers``).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser(prog="chmr").add_subparsers(dest="command")
    >>> args = add_parser(sub).parse_args(["--molecules", "m.csv", "--profiles", "cp=cp.csv", "-o", "ckpt"])
    >>> args.profiles, args.epochs, args.batch_size
    ([('cp', 'cp.csv')], 20, 512)
    """
    parser = sub.add_parser("pretrain", help=HELP, description=HELP + ". Rerun the same command to resume.")
    parser.add_argument("--molecules", required=True, metavar="MOLS",
                        help="table of the pretraining molecules (.csv, .tsv, .parquet; .gz allowed)")
    parser.add_argument("--profiles", nargs="+", required=True, type=profile_spec, metavar="NAME=PATH",
                        help="profile tables, one per modality: a smiles or inchikey column + numeric features")
    parser.add_argument("-o", "--output", required=True, metavar="CKPT_DIR",
                        help="directory for last.pt (resumable) and model.pt (the encoder)")
    parser.add_argument("--smiles-col", default="smiles", metavar="COL",
                        help="SMILES column of the molecules and profile files (default: smiles)")
    parser.add_argument("--epochs", type=positive_int, default=20, metavar="E", help="epochs (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=512, metavar="B",
                        help="molecules per batch (default: %(default)s)")
    parser.add_argument("--lr", type=positive_float, default=1e-4, help="learning rate (default: %(default)s)")
    add_on_invalid_option(parser)
    add_runtime_options(parser)
    add_verbosity_options(parser)
    parser.set_defaults(func=_run)
    return parser


def _read_profiles(specs: list[tuple[str, str]], smiles_col: str) -> dict:
    """``{name: ProfileTable}`` from ``NAME=PATH`` pairs, keyed by SMILES or InChIKey."""
    from ..profiles import ProfileTable

    names = [name for name, _ in specs]
    if len(set(names)) != len(names):
        raise CLIError(f"--profiles names must differ, got {names}.")
    tables = {}
    for name, path in specs:
        what = f"profile file {name!r}"
        frame = read_table(path, what=what)
        # SMILES first: their keys are computed exactly as the molecules' are, whereas an
        # InChIKey column from another source may standardize differently (and then not match).
        if smiles_col in frame.columns:
            keys, values = {"smiles_col": smiles_col}, frame[smiles_col].to_numpy(dtype=object)
        elif "inchikey" in frame.columns:
            keys, values = {"inchikey_col": "inchikey", "smiles_col": None}, []
        else:
            raise CLIError(f"{what} {path!r} has neither a {smiles_col!r} nor an 'inchikey' column to identify "
                           f"the molecules; available columns: {available_columns(frame)}.")
        with molecule_errors(values, smiles_col, path, hint="key the table by an 'inchikey' column"):
            tables[name] = ProfileTable(frame, name=name, **keys)
    return tables


def _run(args: argparse.Namespace) -> int:
    """Build the corpus, pretrain (resuming from ``CKPT_DIR/last.pt``), export ``model.pt``."""
    from ..pretrain import PretrainConfig, PretrainCorpus, Pretrainer

    for _, path in args.profiles:
        check_input_file(path, TABLE_SUFFIXES, what="profile file")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise CLIError(f"-o {args.output!r} exists and is not a directory.")
    frame = read_table(args.molecules, what="molecules file", as_text=True)
    require_columns(frame, [args.smiles_col], args.molecules, what="molecules file")
    smiles = frame[args.smiles_col].tolist()
    tables = _read_profiles(args.profiles, args.smiles_col)

    verbose = verbosity(args) if is_main_process() else 0
    config = PretrainConfig(max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    tic = time.perf_counter()
    with molecule_errors(smiles, args.smiles_col, args.molecules,
                         hint="pass --on-invalid nan to leave them out of pretraining"):
        corpus = PretrainCorpus.build(smiles, tables, config, on_invalid=args.on_invalid, n_jobs=args.n_jobs,
                                      verbose=verbose)
    trainer = Pretrainer(config, device=args.device, checkpoint_dir=out, verbose=verbose).fit(corpus)
    if is_main_process():
        model = trainer.export(out / MODEL_FILE, meta={"n_molecules": len(corpus),
                                                       "profiles": {n: str(p) for n, p in args.profiles}})
        observed = ", ".join(f"{name} {int(b.observed.sum())}" for name, b in corpus.bio.items())
        last = trainer.history_[-1] if trainer.history_ else {}
        loss = f"; final loss {last['loss']:.4f}" if "loss" in last else ""
        print(f"pretrained on {len(corpus)} molecule(s) (profiled: {observed}), {len(trainer.history_)} "
              f"epoch(s) in {time.perf_counter() - tic:.1f} s{loss}")
        print(f"wrote {model} (use it with: chmr embed IN -o OUT --model {model})")
    return 0
