"""A model trained on a GPU loads and predicts on a machine without one."""

import os
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pytest
import torch

from chmr_sklearn import CHMRClassifier


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU to train the model that CPU then loads")
def test_cuda_trained_classifier_predicts_on_cpu(bbbp, tmp_path):
    X, y = bbbp
    clf = CHMRClassifier(device="cuda", max_epochs=5, hidden=64, random_state=0).fit(X, y)
    assert next(clf.net_.module_.parameters()).is_cuda
    expected = clf.predict_proba(X[:20])
    path = tmp_path / "gpu_model.joblib"
    joblib.dump(clf, path)
    np.save(tmp_path / "X.npy", np.asarray(X[:20], dtype=object), allow_pickle=True)
    script = textwrap.dedent(f"""
        import joblib, numpy as np, torch
        assert not torch.cuda.is_available()
        clf = joblib.load({str(path)!r})
        X = np.load({str(tmp_path / "X.npy")!r}, allow_pickle=True)
        np.save({str(tmp_path / "cpu.npy")!r}, clf.predict_proba(X))
    """)
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    np.testing.assert_allclose(np.load(tmp_path / "cpu.npy"), expected, rtol=1e-4, atol=1e-5)


def test_auto_device_resolves_to_an_available_device(bbbp):
    X, y = bbbp
    clf = CHMRClassifier(max_epochs=1, hidden=16, random_state=0).fit(X[:60], y[:60])
    device = next(clf.net_.module_.parameters()).device
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        CHMRClassifier(device="quantum", max_epochs=1).fit(X[:60], y[:60])
