"""Checkpoints: safe loading, round trip, corrupt and incompatible files refused clearly."""

import json
import os

import pytest
import torch
from _scripts import load_script

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


def test_half_export_keeps_values_beyond_float16_in_float32(trained, pretrain_smiles, tmp_path):
    # Virtual-node BatchNorm variances reached 8.5e5 on the 12,000-molecule corpus; float16 tops out
    # at 65504, so a plain cast stored inf and BatchNorm's output became a constant.
    state = trained.model_.encoder_state_dict()
    key = next(k for k in state if "mlp_virtualnode_list" in k and k.endswith("running_var"))
    state[key] = state[key].clone().fill_(848670.0)
    path = save_checkpoint(tmp_path / "big.pt", config=trained.config, spec=dict(trained.spec_, recon_dims=None),
                           model_state=state, scaler=trained.scaler_, half=True)
    stored = torch.load(path, weights_only=True)["model"]
    assert stored[key].dtype == torch.float32 and torch.equal(stored[key], state[key])
    small = next(k for k, v in state.items() if v.is_floating_point() and k != key)
    assert stored[small].dtype == torch.float16  # the rest is still halved
    model = build_model(load_checkpoint(path)["spec"])
    model.load_encoder_state_dict(load_checkpoint(path)["model"])
    assert all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())
    # An export written before the fix (inf stored) warns when loaded, naming the tensor.
    raw = torch.load(path, weights_only=True)
    raw["model"][key] = raw["model"][key].half()
    torch.save(raw, tmp_path / "old.pt")
    with pytest.warns(UserWarning, match=f"non-finite values in {key}.*reexport_encoder"):
        load_checkpoint(tmp_path / "old.pt")


def test_reexport_rewrites_an_encoder_from_the_runs_last_checkpoint(pretrain_smiles, cmea_profiles, tmp_path):
    script = load_script("scripts/reexport_encoder.py")
    # profiles and lambda_profile: the run carries both kinds of training-only weights (decoders, predictors)
    config = PretrainConfig(max_epochs=1, batch_size=32, latent_dim=32, gin_layers=2, lambda_profile=1.0)
    trainer = Pretrainer(config, checkpoint_dir=tmp_path / "run", verbose=0).fit(
        PretrainCorpus.build(pretrain_smiles, {"morphology": cmea_profiles["morphology"]}, config))
    trained_modules = {k.split(".")[0] for k in load_checkpoint(tmp_path / "run" / "last.pt")["model"]}
    assert trained_modules >= {"decoders", "predictors"}
    manifest = {"file": "default.pt", "sha256": "0" * 64, "config": config.to_dict(), "n_molecules": 238,
                "history": trainer.history_}
    (tmp_path / "default.json").write_text(json.dumps(manifest))
    path = script.reexport(tmp_path / "run" / "last.pt", tmp_path / "default.json", tmp_path / "out")
    new = json.loads((tmp_path / "out" / "default.json").read_text())
    assert new["reexported_from"]["previous_sha256"] == "0" * 64 and new["n_molecules"] == 238
    ckpt = load_checkpoint(path)
    assert not any(k.startswith(("decoders.", "predictors.")) for k in ckpt["model"])
    assert ckpt["meta"]["history"] == trainer.history_
    for key, value in trainer.model_.encoder_state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(ckpt["model"][key], value.half().float())
    manifest["history"] = manifest["history"] * 2  # another run's manifest
    (tmp_path / "other.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="is not the run .*other.json describes"):
        script.reexport(tmp_path / "run" / "last.pt", tmp_path / "other.json", tmp_path / "out2")


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
