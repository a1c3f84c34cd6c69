"""Checkpoints: safe loading, round trip, corrupt and incompatible files refused clearly."""

import pytest
import torch

from chmr_sklearn.pretrain import PretrainConfig, PretrainCorpus, Pretrainer, build_model, load_checkpoint
from chmr_sklearn.pretrain.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def trained(pretrain_smiles):
    corpus = PretrainCorpus.build(pretrain_smiles[162:], None, PretrainConfig(batch_size=32))
    return Pretrainer(PretrainConfig(max_epochs=1, batch_size=32), verbose=0).fit(corpus)


def test_export_round_trip_without_decoders(trained, tmp_path):
    path = trained.export(tmp_path / "enc.pt", meta={"note": "test"}, half=True)
    ckpt = load_checkpoint(path)
    assert not any(k.startswith("decoders.") for k in ckpt["model"])
    assert ckpt["meta"]["note"] == "test" and ckpt.config == trained.config
    model = build_model(ckpt["spec"])
    model.load_state_dict(ckpt["model"])
    for key, value in trained.model_.encoder_state_dict().items():
        if value.is_floating_point():  # stored as float16
            torch.testing.assert_close(model.state_dict()[key], value.half().float())


def test_corrupt_truncated_and_foreign_files_are_refused(trained, tmp_path):
    path = trained.export(tmp_path / "enc.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a chmr_sklearn checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_incompatible_version_is_refused(trained, tmp_path, monkeypatch):
    import chmr_sklearn.pretrain.checkpoint as ck

    monkeypatch.setattr(ck, "VERSION", 99)
    path = save_checkpoint(tmp_path / "v99.pt", config=trained.config, spec=trained.spec_,
                           model_state=trained.model_.encoder_state_dict(), scaler=trained.scaler_)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="version 99"):
        load_checkpoint(path)


def test_pickled_objects_cannot_hide_in_a_checkpoint(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"format": "chmr_sklearn.checkpoint", "version": 1, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_checkpoint(tmp_path / "evil.pt")


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="incompatible"):
        PretrainConfig.from_dict({**PretrainConfig().to_dict(), "new_knob": 1})
    with pytest.raises(ValueError, match="fill"):
        PretrainConfig(fill="random")
