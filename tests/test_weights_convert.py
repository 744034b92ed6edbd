"""moga-zoo convert: the authors' checkpoint -> a timm folder that loads equal to the source model."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import timm
import torch

import moga_zoo
from moga_zoo.cli import main
from moga_zoo.weights import ChecksumError, WeightsError
from moga_zoo.weights.convert import ConversionError, convert_checkpoint
from moga_zoo.weights.integrity import sha256_file
from weights_support import authors_model, save_authors_checkpoint

X = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An authors'-layout MoGA-B, its checkpoint and its logits."""
    d = tmp_path_factory.mktemp("src")
    net = authors_model("moga_b", seed=3)
    with torch.no_grad():
        logits = net(X)
    assert logits.std(0).mean() > 1e-2  # input-sensitive, so equality below means something
    return net, save_authors_checkpoint(net, d / "moga_b_authors.pth"), logits


@pytest.fixture(scope="module")
def converted(source, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "moga_b"
    return convert_checkpoint(source[1], "moga_b", out)


def _logits(model):
    with torch.no_grad():
        return model.eval()(X)


def test_converted_folder_has_weights_config_and_card(converted):
    files = sorted(p.name for p in converted.folder.iterdir())
    assert files == ["README.md", "config.json", "model.safetensors"]
    assert sha256_file(converted.folder / "model.safetensors") == converted.sha256
    cfg = json.loads((converted.folder / "config.json").read_text())
    assert cfg["architecture"] == "moga_b" and cfg["pretrained_cfg"]["interpolation"] == "bilinear"
    card = (converted.folder / "README.md").read_text()
    arch = str(moga_zoo.resolve_architecture("moga_b"))
    for needle in (arch, "5,506,236", converted.sha256, "apache-2.0", "@inproceedings", "Table 3"):
        assert needle in card
    e = converted.manifest_entry
    assert e["sha256"] == converted.sha256 and e["size"] == converted.size
    assert e["published"] is False and e["revision"] is None


def test_converted_folder_loads_equal_to_the_source(source, converted):
    """weights= folder, weights= file and timm's local-dir: name all reproduce the authors' logits."""
    ref = source[2]
    assert torch.equal(_logits(moga_zoo.create("moga_b", weights=converted.folder)), ref)
    assert torch.equal(_logits(moga_zoo.create("moga_b", pretrained=True,
                                               weights=converted.folder / "model.safetensors")), ref)
    assert torch.equal(_logits(timm.create_model(f"local-dir:{converted.folder}", pretrained=True)), ref)
    searched = moga_zoo.create(arch=str(moga_zoo.resolve_architecture("moga_b")), weights=converted.folder)
    assert torch.equal(_logits(searched), ref)


def test_every_entry_point_loads_through_timms_loader(source, converted, monkeypatch, tmp_path):
    """create, timm.create_model, predict's and export's loading and convert's round trip all hand
    the resolved file to timm's own load_pretrained (pretrained_cfg["file"])."""
    import timm.models._builder as timm_builder

    from moga_zoo.cli.predict import model_from_args
    from moga_zoo.inference import load_model

    files = []
    real = timm_builder.load_pretrained

    def spy(model, pretrained_cfg=None, **kwargs):
        files.append(Path(pretrained_cfg["file"]).name)
        return real(model, pretrained_cfg, **kwargs)
    monkeypatch.setattr(timm_builder, "load_pretrained", spy)
    ref = source[2]
    assert torch.equal(_logits(moga_zoo.create("moga_b", weights=converted.folder)), ref)
    assert torch.equal(_logits(timm.create_model("moga_b", pretrained=True, weights=converted.folder)), ref)
    assert torch.equal(_logits(load_model("moga_b", weights=converted.folder)), ref)
    cli_args = argparse.Namespace(model="moga_b", weights=str(converted.folder), random_weights=False)
    assert torch.equal(_logits(model_from_args(cli_args)), ref)  # what predict and export run
    convert_checkpoint(source[1], "moga_b", tmp_path / "again")
    assert files == ["model.safetensors"] * 5


def test_adapted_loads_keep_the_backbone(source, converted):
    """num_classes drops only the classifier (timm's rule); features_only ignores the head."""
    full = moga_zoo.create("moga_b", weights=converted.folder)
    ten = moga_zoo.create("moga_b", weights=converted.folder, num_classes=10)
    assert ten.classifier.out_features == 10
    for k, v in ten.state_dict().items():
        if not k.startswith("classifier."):
            assert torch.equal(v, full.state_dict()[k]), k
    feats = moga_zoo.create("moga_b", weights=converted.folder, features_only=True).eval()
    with torch.no_grad():
        last = feats(X)[-1]
        ref = full.eval().forward_features(X)
    assert torch.equal(last, ref)


def test_other_model_is_refused_and_the_fitting_one_named(source, tmp_path):
    with pytest.raises(ConversionError, match="does not fit moga_a.*use --model moga_b"):
        convert_checkpoint(source[1], "moga_a", tmp_path / "x")
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_weights_of_another_model_do_not_load(converted):
    with pytest.raises(WeightsError, match="does not fit this model"):
        moga_zoo.create("moga_c", weights=converted.folder)


class _Evil:
    def __reduce__(self):
        return (print, ("code ran",))


def test_refuses_pickled_code_and_non_checkpoints(source, tmp_path, capsys):
    evil = tmp_path / "evil.pth"
    torch.save({"model_state": source[0].state_dict(), "hook": _Evil()}, evil)
    with pytest.raises(ConversionError, match=r"pickled Python code \(print\), which is never unpickled"):
        convert_checkpoint(evil, "moga_b", tmp_path / "o")
    assert "code ran" not in capsys.readouterr().out
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ConversionError, match="not a readable PyTorch checkpoint"):
        convert_checkpoint(junk, "moga_b", tmp_path / "o")
    other = tmp_path / "other.pth"
    torch.save({"layer.weight": torch.zeros(2)}, other)
    with pytest.raises(ConversionError, match="'layer.weight' is not a key of the authors' MoGA layout"):
        convert_checkpoint(other, "moga_b", tmp_path / "o")
    with pytest.raises(ConversionError, match="--model must be one of"):
        convert_checkpoint(source[1], "mobilenetv3", tmp_path / "o")


def test_bare_state_dict_with_module_prefix(source, tmp_path):
    bare = tmp_path / "bare.pth"
    torch.save({f"module.{k}": v for k, v in source[0].state_dict().items()}, bare)
    r = convert_checkpoint(bare, "moga_b.in1k", tmp_path / "o")
    assert torch.equal(_logits(moga_zoo.create("moga_b", weights=r.folder)), source[2])


def test_cli_convert_install_then_pretrained_offline(source, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOGA_ZOO_WEIGHTS", str(tmp_path / "installed"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["convert", str(source[1]), "--model", "moga_b", "-o", str(tmp_path / "o"),
                 "--install"]) == 0
    out = capsys.readouterr().out
    entry = json.loads(out[out.index("{"):])["moga_b.in1k"]
    assert f"sha256: {entry['sha256']}" in out and "installed:" in out
    assert torch.equal(_logits(moga_zoo.create("moga_b", pretrained=True)), source[2])
    assert torch.equal(_logits(timm.create_model("moga_b.in1k", pretrained=True)), source[2])
    # a changed installed file is caught, not loaded
    installed = tmp_path / "installed" / "moga_b.in1k" / "model.safetensors"
    data = bytearray(installed.read_bytes())
    data[-100] ^= 0xFF
    installed.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="installed file changed"):
        moga_zoo.create("moga_b", pretrained=True)


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "missing.pth"), "--model", "moga_a", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("moga-zoo convert: error:") and "does not exist" in err and "\n" not in err
    assert main(["publish", str(tmp_path), "--repo-id", "org/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks model.safetensors" in err and "\n" not in err


def test_weights_argument_errors(tmp_path):
    with pytest.raises(WeightsError, match="does not exist"):
        moga_zoo.create("moga_a", weights=tmp_path / "nope.safetensors")
    with pytest.raises(WeightsError, match="has no model.safetensors"):
        moga_zoo.create("moga_a", weights=tmp_path)
    pth = tmp_path / "w.pth"
    pth.write_bytes(b"x")
    with pytest.raises(WeightsError, match="moga-zoo convert"):
        moga_zoo.create("moga_a", weights=pth)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 16)
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        moga_zoo.create("moga_a", weights=bad)
