"""Resumable head training: an interrupted fit, run again, equals the uninterrupted fit bit for bit.

Interrupts are real SIGINTs (what Ctrl-C sends), delivered from inside a training step. Also:
damaged, foreign-version and pickle-carrying checkpoints are refused with a ValueError that
names the file, and nothing in them is executed.
"""

import os
import signal
import time

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import Descriptors

import chmr_sklearn.estimators._resume as resume_mod
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from chmr_sklearn import CHMRClassifier, CHMRRegressor
from chmr_sklearn.estimators._head import MaskedLoss
from chmr_sklearn.featurize import FingerprintFeaturizer

# One head per fit (rf_residual="auto" trains two: see test_auto_resumes_the_interrupted_head;
# n_heads=2 too: test_ensemble_resumes_in_its_second_head).
HEAD = {"hidden": 32, "batch_size": 64, "max_epochs": 6, "rf_residual": False, "n_heads": 1, "random_state": 0}


@pytest.fixture(scope="module")
def tasks(bbbp):
    """BBBP penetration labels and RDKit logP of 300 real molecules, on their fingerprints.

    Fingerprints instead of CHMR embeddings keep the test fast; the head sees numbers either way.
    """
    X, y = bbbp
    logp = np.array([Descriptors.MolLogP(Chem.MolFromSmiles(s)) for s in X])
    return FingerprintFeaturizer().fit_transform(list(X)), {"classifier": y.to_numpy(), "regressor": logp}


def _make(kind, **params):
    cls = CHMRClassifier if kind == "classifier" else CHMRRegressor
    return cls("passthrough", **{**HEAD, **params})


def _patch_training_steps(monkeypatch, interrupt_at: int | None = None) -> dict:
    """Count training batches; with ``interrupt_at``, that batch sends this process SIGINT (Ctrl-C).

    ``calls["signalled_at"]`` records when the signal was sent.
    """
    original, calls = MaskedLoss.forward, {"n": 0}

    def forward(self, y_pred, y_true):
        if torch.is_grad_enabled():
            calls["n"] += 1
            if calls["n"] == interrupt_at:
                calls["signalled_at"] = time.perf_counter()
                os.kill(os.getpid(), signal.SIGINT)
        return original(self, y_pred, y_true)

    monkeypatch.setattr(MaskedLoss, "forward", forward)
    return calls


@pytest.fixture(autouse=True)
def sigint_raises_keyboard_interrupt():
    """Python's own Ctrl-C handler, even where the test runner was started with SIGINT ignored
    (a background job of a non-interactive shell inherits SIG_IGN)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _interrupt_after(monkeypatch, n_steps: int) -> dict:
    return _patch_training_steps(monkeypatch, n_steps)


def _head_files(path):
    return sorted(p for p in os.listdir(path) if p.startswith("head-"))


def _same_weights(a, b) -> bool:
    """Every head of ``a`` has the weights of the same head of ``b``."""
    if len(a.heads_) != len(b.heads_):
        return False
    nets = [(ha.variant_nets(), hb.variant_nets()) for ha, hb in zip(a.heads_, b.heads_)]
    if any(na.keys() != nb.keys() for na, nb in nets):
        return False
    states = [(na[v].module_.state_dict(), nb[v].module_.state_dict()) for na, nb in nets for v in na]
    return all(torch.equal(sa[k], sb[k]) for sa, sb in states for k in sa)


@pytest.mark.parametrize("kind, patience", [("classifier", 2), ("regressor", None)])
def test_interrupted_fit_resumes_bit_identically(tasks, kind, patience, tmp_path, monkeypatch):
    E, targets = tasks
    y = targets[kind]
    calls = _patch_training_steps(monkeypatch)
    reference = _make(kind, patience=patience).fit(E, y)
    full_steps = calls["n"]
    monkeypatch.undo()

    # 270 training rows / 64 = 5 batches per epoch: Ctrl-C in the middle of epoch 4.
    _interrupt_after(monkeypatch, 3 * 5 + 3)
    with pytest.raises(KeyboardInterrupt):
        _make(kind, patience=patience, checkpoint_dir=tmp_path).fit(E, y)
    monkeypatch.undo()
    [name] = _head_files(tmp_path)
    saved = (tmp_path / name).read_bytes()

    # Sensitivity check: resuming without the saved random state gives another model.
    monkeypatch.setattr(resume_mod, "_set_generator_states", lambda generators, states: None)
    assert not _same_weights(_make(kind, patience=patience, checkpoint_dir=tmp_path).fit(E, y), reference)
    monkeypatch.undo()

    (tmp_path / name).write_bytes(saved)
    calls = _patch_training_steps(monkeypatch)
    resumed = _make(kind, patience=patience, checkpoint_dir=tmp_path).fit(E, y)
    assert calls["n"] == full_steps - 3 * 5  # it resumed after epoch 3 instead of starting over
    assert resumed.n_epochs_ == reference.n_epochs_
    assert resumed.net_.history[:, "train_loss"] == reference.net_.history[:, "train_loss"]
    assert _same_weights(resumed, reference)
    np.testing.assert_array_equal(resumed.predict(E), reference.predict(E))
    assert _head_files(tmp_path) == []  # a completed fit removes its checkpoint


def test_other_settings_or_data_use_their_own_checkpoint(tasks, tmp_path, monkeypatch):
    E, targets = tasks
    short = {"max_epochs": 3}
    _interrupt_after(monkeypatch, 7)
    with pytest.raises(KeyboardInterrupt):
        _make("classifier", checkpoint_dir=tmp_path, **short).fit(E, targets["classifier"])
    monkeypatch.undo()
    _make("classifier", checkpoint_dir=tmp_path, lr=5e-4, **short).fit(E, targets["classifier"])
    _make("classifier", checkpoint_dir=tmp_path, **short).fit(E[:-10], targets["classifier"][:-10])
    assert len(_head_files(tmp_path)) == 1  # only the interrupted fit's file remains


@pytest.fixture
def interrupted(tasks, tmp_path, monkeypatch):
    """A checkpoint left by an interrupted classifier fit, and a function re-running that fit."""
    E, targets = tasks
    _interrupt_after(monkeypatch, 7)
    with pytest.raises(KeyboardInterrupt):
        _make("classifier", checkpoint_dir=tmp_path).fit(E, targets["classifier"])
    monkeypatch.undo()
    [name] = _head_files(tmp_path)
    return tmp_path / name, lambda: _make("classifier", checkpoint_dir=tmp_path).fit(E, targets["classifier"])


def test_truncated_checkpoint_is_refused_naming_the_file(interrupted):
    path, refit = interrupted
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=f"{path.name}.*truncated or corrupt"):
        refit()


def test_other_format_version_is_refused(interrupted, monkeypatch):
    path, refit = interrupted
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "version": 99}, path)
    with pytest.raises(ValueError, match=f"{path.name} has checkpoint format version 99.*version {resume_mod.VERSION}"):
        refit()
    torch.save({"format": "something.else", "version": 1}, path)
    with pytest.raises(ValueError, match="not a chmr_sklearn head checkpoint"):
        refit()


class _Bomb:
    """Unpickling this would run a shell command (creating a marker file)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_bomb_is_refused_and_never_executed(interrupted, tmp_path):
    path, refit = interrupted
    marker = tmp_path / "pwned"
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "history": _Bomb(marker)}, path)
    with pytest.raises(ValueError, match=f"{path.name}.*truncated or corrupt"):
        refit()
    assert not marker.exists()


@pytest.mark.parametrize("with_checkpoint", [False, True])
def test_ctrl_c_propagates_promptly_and_leaves_the_head_unfitted(tasks, with_checkpoint, tmp_path, monkeypatch):
    E, targets = tasks
    clf = _make("classifier", max_epochs=50, patience=None, checkpoint_dir=tmp_path if with_checkpoint else None)
    calls = _interrupt_after(monkeypatch, 2 * 5 + 2)  # in epoch 3
    with pytest.raises(KeyboardInterrupt) as info:
        clf.fit(E, targets["classifier"])
    stopped_after = time.perf_counter() - calls["signalled_at"]
    assert calls["n"] == 2 * 5 + 2  # not one more training step after the signal
    assert stopped_after < 2.0
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    assert not [k for k in vars(clf) if k.endswith("_") and not k.startswith("_")]
    files = os.listdir(tmp_path)
    if with_checkpoint:
        [name] = files  # the last completed epoch's checkpoint, and no temporary file
        assert name.startswith("head-") and name.endswith(".pt")
        assert len(json_history(tmp_path / name)) == 2
        assert name in str(info.value) and "resume" in str(info.value)
    else:
        assert files == []


def json_history(path):
    import json

    return json.loads(torch.load(path, weights_only=True)["history"])


def test_ctrl_c_during_a_checkpoint_write_leaves_no_partial_file(tasks, tmp_path, monkeypatch):
    E, targets = tasks
    original, writes = torch.save, {"n": 0}

    def save_then_ctrl_c(obj, f, *args, **kwargs):
        writes["n"] += 1
        if writes["n"] == 3:  # the third epoch's write: half a file on disk, then Ctrl-C
            data = __import__("io").BytesIO()
            original(obj, data)
            with open(f, "wb") as fh:
                fh.write(data.getvalue()[: len(data.getvalue()) // 2])
            os.kill(os.getpid(), signal.SIGINT)
        return original(obj, f, *args, **kwargs)

    monkeypatch.setattr(resume_mod.torch, "save", save_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        _make("classifier", patience=None, checkpoint_dir=tmp_path).fit(E, targets["classifier"])
    monkeypatch.undo()
    [name] = os.listdir(tmp_path)  # no head-*.pt.tmp left behind
    assert len(json_history(tmp_path / name)) == 2  # the previous epoch's checkpoint, whole


def test_random_state_none_resumes_with_the_seed_it_drew(tasks, tmp_path, monkeypatch):
    E, targets = tasks
    y = targets["classifier"]
    for _ in range(2):  # two interrupted fits share one file: nothing piles up
        _interrupt_after(monkeypatch, 7)
        with pytest.raises(KeyboardInterrupt):
            _make("classifier", random_state=None, checkpoint_dir=tmp_path).fit(E, y)
        monkeypatch.undo()
    [name] = _head_files(tmp_path)
    seed = int(torch.load(tmp_path / name, weights_only=True)["seed"])
    calls = _patch_training_steps(monkeypatch)
    resumed = _make("classifier", random_state=None, checkpoint_dir=tmp_path).fit(E, y)
    steps_resumed = calls["n"]
    monkeypatch.undo()
    calls = _patch_training_steps(monkeypatch)
    reference = _make("classifier", random_state=seed).fit(E, y)
    assert steps_resumed < calls["n"]  # it continued instead of starting over
    assert _same_weights(resumed, reference)
    assert _head_files(tmp_path) == []


def test_ensemble_resumes_in_its_second_head(tasks, tmp_path, monkeypatch):
    """n_heads=2: the first head's file stays while the second trains; a resumed fit reuses it."""
    E, y = tasks[0], tasks[1]["classifier"]
    calls = _patch_training_steps(monkeypatch)
    reference = _make("classifier", n_heads=2).fit(E, y)
    monkeypatch.undo()
    steps_per_head = calls["n"] // 2

    est = _make("classifier", n_heads=2, checkpoint_dir=tmp_path)
    _interrupt_after(monkeypatch, steps_per_head + 2 * 5 + 2)  # in epoch 3 of the second head
    with pytest.raises(KeyboardInterrupt):
        est.fit(E, y)
    monkeypatch.undo()
    assert len(_head_files(tmp_path)) == 2

    calls = _patch_training_steps(monkeypatch)
    resumed = est.fit(E, y)
    assert calls["n"] <= steps_per_head - 2 * 5 + 5  # the first head is not trained again
    assert _same_weights(resumed, reference)
    np.testing.assert_array_equal(resumed.predict_proba(E), reference.predict_proba(E))
    assert _head_files(tmp_path) == []


@pytest.mark.parametrize("choice", ["auto", "blend"])
def test_auto_resumes_the_interrupted_head(tasks, tmp_path, monkeypatch, choice):
    """rf_residual="auto"/"blend": each variant has its own file; both stay until the whole fit completes."""
    E, y = tasks[0], tasks[1]["regressor"]
    auto = {"rf_residual": choice, "rf_n_estimators": 20, "patience": 2}
    calls = _patch_training_steps(monkeypatch)
    _make("regressor", **dict(auto, rf_residual=False)).fit(E, y)
    plain_steps = calls["n"]
    reference = _make("regressor", **auto).fit(E, y)
    full_steps = calls["n"] - plain_steps
    monkeypatch.undo()
    assert sorted(reference.rf_residual_scores_) == [False, True]

    est = _make("regressor", checkpoint_dir=tmp_path, **auto)
    _interrupt_after(monkeypatch, plain_steps + 2 * 5 + 2)  # in epoch 3 of the head on the forest's offsets
    with pytest.raises(KeyboardInterrupt):
        est.fit(E, y)
    monkeypatch.undo()
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]  # unfitted
    assert len(_head_files(tmp_path)) == 2  # the completed plain head's and the interrupted one's

    calls = _patch_training_steps(monkeypatch)
    resumed = est.fit(E, y)
    # the plain head re-runs at most its last epoch; the other continues after its epoch 2
    assert calls["n"] <= full_steps - plain_steps - 2 * 5 + 5
    assert resumed.rf_residual_ is reference.rf_residual_
    assert resumed.rf_residual_scores_ == reference.rf_residual_scores_
    assert resumed.rf_residual_weights_ == reference.rf_residual_weights_
    assert len(resumed.heads_[0].variant_nets()) == (2 if choice == "blend" else 1)
    assert _same_weights(resumed, reference)
    np.testing.assert_array_equal(resumed.predict(E), reference.predict(E))
    assert _head_files(tmp_path) == []
