"""Data-parallel pretraining: 2 gloo processes under torchrun reproduce the 1-process run.

Tolerances. Losses agree to float32 round-off (1e-5 relative). Weights agree to 1e-4 except
the Linear biases that feed a BatchNorm in the GIN (and those BatchNorms' running means):
BatchNorm subtracts the batch mean, so their exact gradient is zero and what they receive
is round-off noise, which Adam scales up to lr-sized steps in *either* run. They change
nothing the network computes in training mode, which the anchors check instead.
"""

import json
import os
import pickle
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from chmr_sklearn.datasets import load_wehi_molecules
from chmr_sklearn.pretrain import (
    PretrainConfig,
    PretrainCorpus,
    Pretrainer,
    build_model,
    load_checkpoint,
)
from chmr_sklearn.pretrain.distributed import (
    DistContext,
    GlobalBatchNorm1d,
    convert_batchnorm,
    revert_batchnorm,
)
from chmr_sklearn.pretrain.trainer import LAST, _batches

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_ddp_worker.py")
GRAD_BATCH, GRAD_SEED = 25, 123  # as in _ddp_worker.py
# GIN dropout 0: each rank draws its own dropout masks, which cannot equal the 1-process masks.
TINY = {"latent_dim": 32, "gin_layers": 2, "gin_dropout": 0.0, "batch_size": 25, "max_epochs": 2, "lr": 1e-3,
        "fp_bits": 256, "tree_depth": 3}
# A Linear bias right before a BatchNorm, and that BatchNorm's running mean (see the docstring).
FREE = re.compile(r"gnn\.(convs\.\d+\.mlp\.[03]\.bias|mlp_virtualnode_list\.\d+\.[03]\.bias"
                  r"|convs\.\d+\.mlp\.1\.running_mean|batch_norms\.\d+\.running_mean"
                  r"|mlp_virtualnode_list\.\d+\.[14]\.running_mean)$")


@pytest.fixture(scope="module")
def tiny_corpus(data_home):
    """64 real molecules: 48 CMEA compounds (40 with Cell Painting + L1000 rows) and 16 WEHI ones."""
    morph = pd.read_csv(data_home / "cell" / "derived_cmea_cellpainting_162.csv.gz")
    expr = pd.read_csv(data_home / "cell" / "derived_cmea_l1000_162.csv.gz")
    meta = ["broad_id", "pert_iname", "inchikey"]
    profiles = {"morphology": morph.drop(columns=meta).iloc[:40, :60],
                "expression": expr.drop(columns=meta).iloc[:40, :80]}
    smiles = list(morph["smiles"][:48]) + list(load_wehi_molecules().frame["smiles"][::500][:16])
    return PretrainCorpus.build(smiles, profiles, PretrainConfig(**TINY))


def _run_torchrun(corpus, config, out: Path) -> None:
    out.mkdir()
    with open(out / "corpus.pkl", "wb") as fh:
        pickle.dump(corpus, fh)
    (out / "config.json").write_text(json.dumps(config.to_dict()))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER),
           str(out / "corpus.pkl"), str(out / "config.json"), str(out)]
    # A session of its own, so that a hang kills torchrun's workers too, not only the launcher.
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        pytest.fail("torchrun did not finish in 300 s:\n" + stdout[-3000:] + stderr[-3000:])
    assert proc.returncode == 0, stdout[-3000:] + stderr[-3000:]


def _single_gradients(corpus, config) -> dict:
    """What the worker's first_batch_gradients computes, in one process."""
    trainer = Pretrainer(config, device="cpu", verbose=0)
    torch.manual_seed(0)
    model = build_model(trainer._spec(corpus))
    torch.manual_seed(GRAD_SEED)
    parts = trainer.batch_losses(model, corpus, np.arange(GRAD_BATCH), np.random.default_rng(GRAD_SEED),
                                 torch.device("cpu"))
    (parts["cpr"] + config.lambda_sca * parts["sca"] + config.lambda_tree * parts["tree"]).backward()
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def _anchors(state, spec, corpus) -> torch.Tensor:
    """Training-mode anchors of the whole corpus (batch statistics, as during pretraining)."""
    model = build_model(spec)
    model.load_state_dict(state)
    with torch.no_grad():
        return model.train().anchor(model.encode(**corpus.mol.torch_batch(np.arange(len(corpus)))))


def test_two_gloo_processes_match_one_process(tiny_corpus, tmp_path):
    config = PretrainConfig(**TINY)
    single = Pretrainer(config, device="cpu", verbose=0).fit(tiny_corpus)
    _run_torchrun(tiny_corpus, config, tmp_path / "ddp")

    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [(r["rank"], r["world_size"]) for r in ranks] == [(0, 2), (1, 2)]

    # One global batch's gradient after DDP's averaging equals the single-process gradient:
    # no factor of the world size (Adam would hide one in the weights compared below).
    reference = _single_gradients(tiny_corpus, config)
    for grads in (r["grads"] for r in ranks):
        assert grads.keys() == reference.keys()
        for name, grad in reference.items():  # per tensor: round-off relative to its largest entry
            assert (grads[name] - grad).abs().max() <= 1e-4 * grad.abs().max() + 1e-5, name
    assert reference["gnn.convs.0.mlp.0.weight"].abs().max() > 1e-3  # a wrong scale would show
    for key, value in ranks[0]["state"].items():  # DDP keeps the replicas identical
        assert torch.equal(value, ranks[1]["state"][key]), key

    # Per-epoch losses of the global batches equal the single-process ones.
    history = json.loads(ranks[0]["history"])
    assert [h["epoch"] for h in history] == [1, 2]
    for got, ref in zip(history, single.history_):
        for part in ("loss", "cpr", "sca", "tree"):
            assert got[part] == pytest.approx(ref[part], rel=1e-5, abs=1e-7), part

    ref_state = single.model_.state_dict()
    free = [k for k in ref_state if FREE.search(k)]
    assert len(free) == 12  # 2 GIN layers x 2 biases + 1 virtual-node MLP x 2 biases, and their running means
    worst = max((ranks[0]["state"][k] - v).abs().max().item() for k, v in ref_state.items()
                if v.is_floating_point() and k not in free)
    assert worst < 1e-4
    torch.testing.assert_close(_anchors(ranks[0]["state"], single.spec_, tiny_corpus),
                               _anchors(ref_state, single.spec_, tiny_corpus), rtol=1e-4, atol=1e-4)

    # A different seed moves the same weights far more: the comparison above can fail.
    other = Pretrainer(PretrainConfig(**{**TINY, "seed": 1}), device="cpu", verbose=0).fit(tiny_corpus)
    moved = max((other.model_.state_dict()[k] - v).abs().max().item() for k, v in ref_state.items()
                if v.is_floating_point() and k not in free)
    assert moved > 100 * worst and moved > 1e-2
    assert abs(other.history_[-1]["loss"] - single.history_[-1]["loss"]) > 1e-3

    # Only rank 0 wrote: one resumable checkpoint and one export, both holding its weights.
    ckpt = load_checkpoint(tmp_path / "ddp" / "ckpt" / LAST)
    assert ckpt["train"]["epoch"] == 2 and sorted(os.listdir(tmp_path / "ddp" / "ckpt")) == [LAST]
    for key, value in ckpt["model"].items():
        assert torch.equal(value, ranks[0]["state"][key]), key
    exported = load_checkpoint(tmp_path / "ddp" / "model.pt")
    assert not any(k.startswith("decoders.") for k in exported["model"])


def test_global_batchnorm_is_batchnorm_in_one_process():
    torch.manual_seed(0)
    plain = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6))
    ref = plain(torch.ones(5, 4) + torch.randn(5, 4))
    model = convert_batchnorm(plain, DistContext())
    assert isinstance(model[1], GlobalBatchNorm1d)
    keys = set(model.state_dict())
    revert_batchnorm(model)
    assert type(model[1]) is torch.nn.BatchNorm1d and set(model.state_dict()) == keys
    assert model[1].num_batches_tracked.item() == 1 and ref.shape == (5, 6)


def test_trailing_batch_leaves_every_rank_a_molecule():
    order = np.arange(53)
    assert [len(b) for b in _batches(order, 25)] == [25, 25, 3]
    for n, min_size, sizes in [(53, 4, [25, 28]), (51, 2, [25, 26])]:
        batches = _batches(np.arange(n), 25, min_size=min_size)
        assert [len(b) for b in batches] == sizes
        assert np.array_equal(np.concatenate(batches), np.arange(n))  # every molecule once, in order
