"""Chunks located on the client and read on a worker are exactly the one-pass reader's chunks."""

import gzip

import pyarrow as pa
import pytest

from chmr_sklearn.streaming._files import expand_inputs, iter_chunks, open_input, plan_pieces, read_piece

# Edge cases of line-based files: no final newline, CRLF, blank lines (kept as rows), quoted
# commas, a header-only file, a SMILES file with and without a header line.
CASES = {
    "plain.csv": "id,smiles\n1,CCO\n2,c1ccccc1\n3,CCN\n4,CC(=O)O\n5,CCCl\n",
    "no_final_newline.csv": "id,smiles\n1,CCO\n2,c1ccccc1\n3,CCN\n4,CC(=O)O\n5,CCCl",
    "crlf.csv": "id,smiles\r\n1,CCO\r\n2,c1ccccc1\r\n3,CCN\r\n",
    "blank_lines.csv": "id,smiles\n1,CCO\n\n3,CCN\n\n\n6,CCCl\n",
    "quoted.csv": 'id,smiles\n"a, b",CCO\n"c",CCN\n"d ""e""",CC\n',
    "header_only.csv": "id,smiles\n",
    "tabs.tsv": "id\tsmiles\n1\tCCO\n2\tCCN\n3\tCC\n",
    "named.smi": "CCO ethanol\nc1ccccc1 benzene ring\nCCN\n\nCC ethane\n",
    "header.smi": "SMILES name\nCCO ethanol\nCCN\n",
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("size", [1, 2, 3, 100])
def test_pieces_equal_the_one_pass_chunks(name, size, tmp_path):
    path = tmp_path / name
    path.write_bytes(CASES[name].encode())
    f = open_input(path, "smiles")
    expected = list(iter_chunks(f, size))
    pieces = plan_pieces(f, 0, size)
    assert [p.chunk for p in pieces] == list(range(len(expected)))
    assert [p.first_row for p in pieces] == [k * size for k in range(len(expected))]
    for piece, chunk in zip(pieces, expected, strict=True):
        assert read_piece(f, piece).equals(chunk), (name, size, piece)


def test_parquet_pieces_cross_row_groups(tmp_path):
    path = tmp_path / "in.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"smiles": [f"C{'C' * i}O" for i in range(23)], "n": list(range(23))}), path,
                   row_group_size=5)
    f = open_input(path, "smiles")
    expected = list(iter_chunks(f, 7))
    pieces = plan_pieces(f, 2, 7)
    assert [(p.file_index, p.first_row, p.n_rows) for p in pieces] == [(2, 0, 7), (2, 7, 7), (2, 14, 7), (2, 21, 2)]
    assert all(read_piece(f, p).equals(c) for p, c in zip(pieces, expected, strict=True))


def test_a_quoted_line_break_is_refused_on_a_cluster_not_misread(tmp_path):
    path = tmp_path / "multiline.csv"
    path.write_text('id,smiles\n"line one\nline two",CCO\n2,CCN\n')
    f = open_input(path, "smiles")
    assert [t.num_rows for t in iter_chunks(f, 10)] == [2]  # one pass reads it right
    with pytest.raises(ValueError, match="quoted line break"):
        read_piece(f, plan_pieces(f, 0, 10)[0])


def test_globs_expand_in_name_order_and_gzip_reads_in_one_pass(tmp_path):
    for name in ("b.smi.gz", "a.smi.gz", "c.txt"):
        data = b"CCO x\nCCN y\n"
        (tmp_path / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    assert [p.name for p in expand_inputs(str(tmp_path / "*.smi.gz"))] == ["a.smi.gz", "b.smi.gz"]
    assert [p.name for p in expand_inputs([tmp_path / "c.txt", str(tmp_path / "a*")])] == ["c.txt", "a.smi.gz"]
    with pytest.raises(FileNotFoundError, match="No input file matches"):
        expand_inputs(str(tmp_path / "*.csv"))
    f = open_input(tmp_path / "a.smi.gz", "smiles")
    assert not f.seekable and [t.column("name").to_pylist() for t in iter_chunks(f, 1)] == [["x"], ["y"]]


def test_read_chunks_gives_the_chunks_as_dask_partitions(tmp_path):
    from chmr_sklearn.streaming import read_chunks

    (tmp_path / "a.csv").write_text("id,smiles\n" + "".join(f"{i},{'C' * (i + 1)}O\n" for i in range(7)))
    (tmp_path / "b.csv").write_text("id,smiles\n")
    (tmp_path / "c.csv.gz").write_bytes(gzip.compress(b"id,smiles\n9,CCN\n10,CCCN\n"))
    frame = read_chunks([tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv.gz"], chunk_size=3)
    assert frame.npartitions == 3 + 1 + 1  # a.csv: 3 chunks, the empty b.csv: 1, the gzip file: 1
    parts = [frame.get_partition(k).compute(scheduler="sync") for k in range(frame.npartitions)]
    assert [len(p) for p in parts] == [3, 3, 1, 0, 2]
    assert parts[1].index.tolist() == [3, 4, 5] and parts[1]["id"].tolist() == ["3", "4", "5"]
    whole = frame.compute(scheduler="sync")
    assert whole["smiles"].tolist() == [f"{'C' * (i + 1)}O" for i in range(7)] + ["CCN", "CCCN"]
