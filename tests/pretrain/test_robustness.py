"""Pretraining robustness: resume keyed on the data, no global RNG (threads), Ctrl-C, atomic files."""

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import pytest
import torch

from _tiny import tiny_config, tiny_corpus
from chmr_sklearn.pretrain import Pretrainer, load_checkpoint, save_checkpoint
from chmr_sklearn.pretrain.trainer import LAST

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_interrupt_worker.py")


@pytest.fixture(scope="module")
def config():
    return tiny_config(max_epochs=1)


@pytest.fixture(scope="module")
def corpus_a(config):
    return tiny_corpus(config)


@pytest.fixture(scope="module")
def corpus_b(config):
    return tiny_corpus(config, offset=40)


def _state(trainer):
    return {k: v.detach().clone() for k, v in trainer.model_.state_dict().items()}


def _equal(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_fingerprint_tells_corpora_apart(config, corpus_a, corpus_b):
    assert corpus_a.fingerprint() == tiny_corpus(config).fingerprint()  # same molecules + profiles
    assert corpus_a.fingerprint() != corpus_b.fingerprint()
    # Same molecules, one profile value changed: still another corpus.
    other = tiny_corpus(config)
    other.bio["morphology"].inputs[0, 0] += 1.0
    other.__dict__.pop("_fingerprint", None)
    assert other.fingerprint() != corpus_a.fingerprint()


def test_other_data_never_resumes_same_data_does(config, corpus_a, corpus_b, tmp_path, monkeypatch):
    Pretrainer(config, checkpoint_dir=tmp_path, verbose=0).fit(corpus_a)
    fresh_b = Pretrainer(config, verbose=0).fit(corpus_b)
    with pytest.warns(UserWarning, match="other data"):
        on_b = Pretrainer(config, checkpoint_dir=tmp_path, verbose=0).fit(corpus_b)
    # Trained from scratch on B (not A's model paired with B's scaler) ...
    assert _equal(_state(on_b), _state(fresh_b))
    assert load_checkpoint(tmp_path / LAST)["meta"]["corpus_fingerprint"] == corpus_b.fingerprint()

    # ... and the same corpus (rebuilt from the same inputs) resumes: no epoch is trained again.
    def no_training(*args, **kwargs):
        raise AssertionError("resumed run trained an epoch again")

    monkeypatch.setattr(Pretrainer, "_epoch", no_training)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = Pretrainer(config, checkpoint_dir=tmp_path, verbose=0).fit(tiny_corpus(config, offset=40))
    assert _equal(_state(again), _state(fresh_b))
    assert [h["epoch"] for h in again.history_] == [1]


def test_no_global_rng_and_threads_match_sequential(corpus_a):
    configs = [tiny_config(max_epochs=1, seed=s, gin_dropout=0.5) for s in (0, 1)]
    torch.manual_seed(123)
    before = torch.get_rng_state()
    sequential = [_state(Pretrainer(c, verbose=0).fit(corpus_a)) for c in configs]
    assert torch.equal(torch.get_rng_state(), before), "pretraining read or reseeded torch's global generator"
    assert not _equal(*sequential)  # the seeds matter

    results = [None, None]

    def run(i):
        results[i] = _state(Pretrainer(configs[i], verbose=0).fit(corpus_a))

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, sequential):
        assert _equal(got, want)


def test_interrupted_write_leaves_the_old_file_whole(corpus_a, config, tmp_path, monkeypatch):
    trainer = Pretrainer(config, checkpoint_dir=tmp_path, verbose=0).fit(corpus_a)
    before = (tmp_path / LAST).read_bytes()

    def half_then_ctrl_c(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path / LAST, config=config, spec=trainer.spec_, model_state=trainer.model_.state_dict(),
                        scaler=corpus_a.scaler)
    assert sorted(p.name for p in tmp_path.iterdir()) == [LAST]  # no temporary file left behind
    assert (tmp_path / LAST).read_bytes() == before


def test_sigint_stops_promptly_leaving_a_resumable_checkpoint(tmp_path, monkeypatch):
    ckpt = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(WORKER), str(ckpt)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not (ckpt / LAST).is_file():  # wait for a completed epoch, then press Ctrl-C mid-run
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint written in 240 s"
            time.sleep(0.2)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode != 0 and "KeyboardInterrupt" in stderr, stderr[-3000:]
    assert stopped_after < 30, f"took {stopped_after:.1f} s to stop"
    assert sorted(p.name for p in ckpt.iterdir()) == [LAST]  # no partial / temporary file
    done = load_checkpoint(ckpt / LAST)["train"]["epoch"]
    assert done >= 1

    # Fitting again resumes after the last completed epoch.
    config = tiny_config(max_epochs=10_000)
    started = []

    class Stop(Exception):
        pass

    def record_first_epoch(self, step, optimizer, scheduler, corpus, epoch, device):
        started.append(epoch)
        raise Stop

    monkeypatch.setattr(Pretrainer, "_epoch", record_first_epoch)
    trainer = Pretrainer(config, checkpoint_dir=ckpt, verbose=0)
    with pytest.raises(Stop):
        trainer.fit(tiny_corpus(config))
    assert started == [done]
    assert not hasattr(trainer, "model_") and not hasattr(trainer, "history_")  # documented: unfitted
