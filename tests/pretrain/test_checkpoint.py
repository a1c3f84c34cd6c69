"""Checkpoints: safe loading, round trip, corrupt and incompatible files refused clearly."""

import os

import pytest
import torch

from chmr_sklearn.pretrain import (
    PretrainConfig,
    PretrainCorpus,
    Pretrainer,
    build_model,
    load_checkpoint,
)
from chmr_sklearn.pretrain.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def trained(pretrain_smiles):
    config = PretrainConfig(max_epochs=1, batch_size=32, latent_dim=32, gin_layers=2)
    return Pretrainer(config, verbose=0).fit(PretrainCorpus.build(pretrain_smiles[162:], None, config))


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
    with pytest.raises(ValueError, match="cut.pt is not a readable .* checkpoint .truncated or corrupt"):
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
    with pytest.raises(ValueError, match=r"v99.pt has checkpoint format version 99.*reads version 1 only"):
        load_checkpoint(path)


class _Bomb:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_bomb_is_refused_and_never_executed(trained, tmp_path):
    path = trained.export(tmp_path / "enc.pt")
    raw = torch.load(path, weights_only=True)
    torch.save({**raw, "meta": _Bomb(tmp_path / "pwned")}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt is not a readable chmr_sklearn checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="incompatible"):
        PretrainConfig.from_dict({**PretrainConfig().to_dict(), "new_knob": 1})
    with pytest.raises(ValueError, match="fill"):
        PretrainConfig(fill="random")
