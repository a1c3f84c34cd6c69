"""The single-process path: each file read once, in order, chunk by chunk."""

from __future__ import annotations

import time
from pathlib import Path

from ._files import InputFile, iter_chunks
from ._jobs import ChunkResult, _Job, process_chunk
from ._parts import part_path
from ._run import log


def run_here(job: _Job, files: list[InputFile], work: Path, chunk_size: int, verbose: int) -> list[ChunkResult]:
    """Every chunk of every file, in order. Once a chunk has invalid rows under
    ``on_invalid="raise"`` the output will not be written, so later chunks are only parsed."""
    results: list[ChunkResult] = []
    failed = False
    for i, f in enumerate(files):
        label = f"{f.path.name}: " if len(files) > 1 else ""
        for k, table in enumerate(iter_chunks(f, chunk_size)):
            t0, first = time.perf_counter(), k * chunk_size
            result = process_chunk(job, table, f.smiles_col, part_path(work, i, k), i, k, first, scan_only=failed)
            results.append(result)
            failed = failed or bool(result.bad)
            rows = f"rows {first + 1}-{first + table.num_rows}"
            if result.skipped:
                log(verbose, f"{label}chunk {k + 1}: {rows} already done, skipped")
            elif not failed:
                log(verbose, f"{label}chunk {k + 1}: {rows}, "
                             f"{table.num_rows / (time.perf_counter() - t0):,.0f} rows/s")
    return results
