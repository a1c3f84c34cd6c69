"""Finished chunks as Parquet *parts*, the manifest that identifies a run, and the final output.

A part exists only once complete (written to ``.tmp`` then renamed), so a rerun trusts its
existence; parts are named ``part-FFFFF-CCCCCC.parquet`` (input file, chunk) so that name
order is row order. ``_manifest.json`` (the leading underscore keeps Parquet readers from
taking it for data) describes everything that changes the rows: a run with another manifest
never reuses the parts.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

MANIFEST = "_manifest.json"
DONE = "_SUCCESS"
FILE_SUFFIXES = (".parquet", ".csv", ".tsv", ".csv.gz", ".tsv.gz")


def part_path(work: Path, file_index: int, chunk: int) -> Path:
    """Where chunk ``chunk`` of input ``file_index`` is written."""
    return work / f"part-{file_index:05d}-{chunk:06d}.parquet"


def output_kind(output_path: Path) -> str:
    """``".parquet"``, ``".csv"``, ... for one output file; ``""`` for a directory of parts."""
    suffixes = [s.lower() for s in output_path.suffixes]
    suffix = "".join(suffixes[-2:]) if suffixes[-1:] == [".gz"] else "".join(suffixes[-1:])
    if suffix in FILE_SUFFIXES:
        return suffix
    if not suffix or output_path.is_dir():
        return ""
    raise ValueError(f"Output must be a .parquet, .csv, .tsv, .csv.gz or .tsv.gz file, or a directory "
                     f"(Parquet parts), got {output_path.name!r}.")


def work_dir(output_path: Path) -> Path:
    """The parts' folder: ``OUTPUT.parts/`` next to an output file, the output directory itself."""
    return output_path if output_kind(output_path) == "" else output_path.with_name(output_path.name + ".parts")


def prepare(work: Path, manifest: dict, resume: bool) -> None:
    """Create ``work`` with ``manifest``, or check that the one there describes this very run."""
    path = work / MANIFEST
    if work.exists():
        if not path.is_file() and any(work.iterdir()):
            raise ValueError(f"{work} exists but holds no {MANIFEST}: it was not written by chmr_sklearn.streaming. "
                             "Remove it or choose another output path.")
        if not resume:
            shutil.rmtree(work)
        elif path.is_file():
            try:
                old = json.loads(path.read_text())
            except ValueError:
                old = {}
            new = json.loads(json.dumps(manifest))
            if old != new:
                raise ValueError(
                    f"{work} holds chunks of another run (different {', '.join(_differences(old, new))}); they are "
                    "not reused. Pass resume=False (chmr embed/predict --no-resume) to start over, or remove the "
                    "folder."
                )
    work.mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True))


def _differences(old: dict, new: dict) -> list[str]:
    keys = sorted(k for k in new.keys() | old.keys() if old.get(k) != new.get(k) and not isinstance(new.get(k), dict))
    for k in sorted(new):
        if isinstance(new[k], dict):
            before = old.get(k) if isinstance(old.get(k), dict) else {}
            keys += sorted(f"{k}.{sub}" for sub in new[k].keys() | before.keys() if before.get(sub) != new[k].get(sub))
    return keys


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old or the new file, never half."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_part(table: pa.Table, columns: list[np.ndarray], names: list[str], part: Path) -> None:
    """``table``'s columns then ``columns`` (named ``names``), as one Parquet part, atomically."""
    # One from_arrays call: append_column would rebuild the table once per column (quadratic).
    table = pa.Table.from_arrays(table.columns + [pa.array(c) for c in columns], names=table.column_names + names)
    # Process id in the temporary name: two workers that both run a retried task never share one.
    tmp = part.with_name(f"{part.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, part)  # a part exists only once complete: resume trusts existence


def part_counts(part: Path, first_output: str) -> tuple[int, int]:
    """Rows of a finished part, and its invalid rows (NaN in the first output column)."""
    column = pq.read_table(part, columns=[first_output]).column(0).to_numpy(zero_copy_only=False)
    return len(column), int(np.isnan(column.astype(np.float64)).sum())


def assemble(parts: list[Path], output_path: Path) -> None:
    """Copy the parts into ``output_path`` one row group at a time; the file appears atomically."""
    kind = output_kind(output_path)
    tmp = output_path.with_name(output_path.name + ".tmp")
    writer = sink = None
    try:
        for part in parts:
            source = pq.ParquetFile(part)
            if writer is None:
                writer, sink = _writer(tmp, kind, source.schema_arrow)
            for group in range(source.num_row_groups):
                writer.write_table(source.read_row_group(group))
    finally:
        if writer is not None:
            writer.close()
        if sink is not None:
            sink.close()
    os.replace(tmp, output_path)


def _writer(tmp: Path, kind: str, schema: pa.Schema):
    if kind == ".parquet":
        return pq.ParquetWriter(tmp, schema), None
    sink = pa.CompressedOutputStream(str(tmp), "gzip") if kind.endswith(".gz") else pa.OSFile(str(tmp), "wb")
    options = pacsv.WriteOptions(delimiter="\t" if kind.startswith(".tsv") else ",")
    return pacsv.CSVWriter(sink, schema, write_options=options), sink
