"""benchmarks/pretraining_quality.py's Markdown report (``_quality.write_report``), rendered from the committed JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from chmr_sklearn.benchmark._quality import write_report

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "pretraining_quality.json"


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(RESULTS.read_text())


@pytest.fixture
def res(committed) -> dict:
    """A copy of the committed results that a test may edit before rendering."""
    return copy.deepcopy(committed)


def render(tmp_path, res: dict, seeds=(0, 1, 2), argv_text="--reuse") -> str:
    out = tmp_path / "pretraining_quality.md"
    write_report(out, res, list(seeds), argv_text)
    return out.read_text()


def section(text: str, number: int) -> str:
    """The text of section ``## {number}.`` up to the next ``## `` heading ("" when absent)."""
    parts = text.split("\n## ")
    return next(("## " + p for p in parts if p.startswith(f"{number}. ")), "")


def rows(block: str) -> list[list[str]]:
    """The body rows of the Markdown tables in ``block``, as stripped cells (header and separator dropped)."""
    lines = [ln for ln in block.splitlines() if ln.startswith("|")]
    body = [ln for i, ln in enumerate(lines) if not set(ln) <= set("|-:") and not (
        i + 1 < len(lines) and set(lines[i + 1]) <= set("|-:"))]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in body]


def test_loss_table_has_one_row_per_epoch(tmp_path, res):
    hist = res["shipped_history"]
    loss = section(render(tmp_path, res), 1)
    assert f"({len(hist)} epochs," in loss.splitlines()[0]
    expected = [[str(h["epoch"]), f"{h['loss']:.2f}", f"{h['cpr']:.3f}", f"{h['sca']:.2f}", f"{h['tree']:.3f}",
                 f"{h['lr']:.1e}", f"{h['seconds']:.0f}"] for h in hist]
    assert rows(loss) == expected


def test_loss_heading_uses_recorded_peak_lr(tmp_path, res):
    res["shipped_lr"] = 5e-4
    assert "peak lr 0.0005)" in section(render(tmp_path, res), 1)
    del res["shipped_lr"]  # older results: the 1e-3 default
    assert "peak lr 0.001)" in section(render(tmp_path, res), 1)


def test_per_batch_table_has_one_row_per_modality(tmp_path, res):
    table = rows(section(render(tmp_path, res), 2))
    assert [r[0] for r in table] == list(res["per_batch"])
    for r, p in zip(table, res["per_batch"].values()):
        assert r[1:] == [f"{p['observed']:,}", f"{100 * p['fraction']:.2f} %", f"{p['mean_per_batch']:.1f}",
                         f"{p['p_batch_has_2plus']:.2f}"]


@pytest.mark.parametrize("walk", ["committed", "missing", "none"])
def test_walk_reach_paragraph_only_when_measured(tmp_path, res, walk):
    w = res["walk_reach"]
    if walk == "missing":
        del res["walk_reach"]
    elif walk == "none":
        res["walk_reach"] = None
    text = render(tmp_path, res)
    signal = section(text, 2)
    assert len(rows(signal)) == len(res["per_batch"])
    assert ("Where CPR's random walks go" in signal) == (walk == "committed")
    assert (f"**{100 * w['unobserved_reaching_profile']:.1f} %**" in signal) == (walk == "committed")
    assert section(text, 3)  # the rest of the report still follows


@pytest.mark.parametrize("ablations", ["committed", "empty", "missing"])
def test_ablation_section_only_when_ablations(tmp_path, res, ablations):
    if ablations == "empty":
        res["ablations"] = {}
    elif ablations == "missing":
        del res["ablations"]
    text = render(tmp_path, res)
    abl = section(text, 5)
    assert bool(abl) == (ablations == "committed")
    if abl:
        table = rows(abl)
        assert [r[0] for r in table] == list(res["ablations"])
        assert dict((r[0], r[-1]) for r in table)["full"] == "–"
    assert ("**Ablation harness**" in text) == (ablations == "committed")


def test_tree_section_has_a_table_per_encoder(tmp_path, res):
    tree = section(render(tmp_path, res), 4)
    assert tree.index("**shipped encoder**") < tree.index("**random encoder**")
    shipped, random = tree.split("**random encoder**")
    for name, block in (("shipped", shipped), ("random", random)):
        table = rows(block)
        assert [r[0] for r in table] == [str(r["depth"]) for r in res["tree"][name]]
        for r, d in zip(table, res["tree"][name]):
            usage = ["–"] * 3 if d["depth"] == 0 else [f"{d['codes_used']} / {d['codes_total']}",
                                                       f"{d['largest_code_share']:.2f}", f"{d['entropy_bits']:.2f}"]
            assert r[1:4] == usage
            assert r[4:] == [f"{d[k]:.3f}" for k in ("same_scaffold", "tanimoto", "label_agree",
                                                     "p_active_given_active")]


def test_header_records_command_and_seeds(tmp_path, res):
    text = render(tmp_path, res, seeds=(0,), argv_text="--quick")
    assert "`python benchmarks/pretraining_quality.py --quick`" in text
    assert "seeds [0]:" in section(text, 3)
