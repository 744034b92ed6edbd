"""weights_manifest.json: schema validation, honest unpublished entries, one source for timm's cfgs."""
from __future__ import annotations

import copy
import json
from importlib import resources

import pytest
import timm

import moga_zoo
from moga_zoo.weights import WeightsNotPublishedError
from moga_zoo.weights.manifest import ManifestError, load_manifest, manifest_path, parse_manifest
from weights_support import ROOT

RAW = json.loads((ROOT / "weights_manifest.json").read_text())


def test_packaged_manifest_is_the_top_level_file_and_validates():
    packaged = resources.files("moga_zoo.weights").joinpath("weights_manifest.json").read_bytes()
    assert packaged == (ROOT / "weights_manifest.json").read_bytes()
    m = load_manifest()
    assert set(m.entries) == {"moga_a.in1k", "moga_b.in1k", "moga_c.in1k"}
    assert {m.default_name(x) for x in ("moga_a", "moga_b", "moga_c")} == set(m.entries)


def test_unpublished_entries_are_honest():
    """No real ImageNet weights exist here: nothing claims a commit, a digest or a measurement."""
    for e in load_manifest().entries.values():
        assert not e.published and e.revision is None and e.sha256 is None and e.size is None
        assert all(metric.script is None and "not re-measured" in metric.reported_by for metric in e.metrics)


def test_default_cfgs_come_from_the_manifest():
    m = load_manifest()
    for name, e in m.entries.items():
        cfg = timm.models.get_pretrained_cfg(name).to_dict()
        for key in ("num_classes", "crop_pct", "interpolation", "license"):
            assert cfg[key] == getattr(e, key), (name, key)
        assert tuple(cfg["input_size"]) == e.input_size and tuple(cfg["mean"]) == e.mean
        assert cfg.get("hf_hub_id") is None  # unpublished: no hub id, so timm lists no weights
    assert timm.list_models("moga*", pretrained=True) == []


@pytest.mark.parametrize("make", [moga_zoo.create, timm.create_model])
def test_pretrained_on_unpublished_entry_says_how_to_get_weights(make, tmp_path, monkeypatch):
    monkeypatch.setenv("MOGA_ZOO_WEIGHTS", str(tmp_path))  # nothing installed
    with pytest.raises(WeightsNotPublishedError) as err:
        make("moga_b", pretrained=True)
    msg = str(err.value)
    assert "moga_b.in1k" in msg and "moga-zoo convert CHECKPOINT --model moga_b" in msg
    assert "on request" in msg and "weights=" in msg


def test_manifest_env_var_replaces_the_packaged_file(tmp_path, monkeypatch):
    data = copy.deepcopy(RAW)
    data["entries"]["moga_a.in1k"]["license"] = "other-license"
    path = tmp_path / "m.json"
    path.write_text(json.dumps(data))
    monkeypatch.setenv("MOGA_ZOO_MANIFEST", str(path))
    assert manifest_path() == path
    assert load_manifest().entry("moga_a").license == "other-license"


def _broken(entry_name: str, field: str, value):
    data = copy.deepcopy(RAW)
    if value is KeyError:
        del data["entries"][entry_name][field]
    else:
        data["entries"][entry_name][field] = value
    return data


@pytest.mark.parametrize("entry,field,value,expect", [
    ("moga_a.in1k", "sha256", "abc", "64 lowercase hex"),
    ("moga_b.in1k", "filename", "pytorch_model.bin", "only .safetensors"),
    ("moga_c.in1k", "hf_hub_id", "no-slash", "'org/name'"),
    ("moga_a.in1k", "revision", "main", "40-hex-digit commit"),
    ("moga_b.in1k", "input_size", [224, 224], "[channels, height, width]"),
    ("moga_c.in1k", "interpolation", "lanczos", "bilinear"),
    ("moga_a.in1k", "license", KeyError, "missing"),
    ("moga_b.in1k", "published", "yes", "true/false"),
    ("moga_c.in1k", "mean", [0.5, 0.5], "3 numbers"),
    ("moga_a.in1k", "crop_pct", 1.5, "(0, 1]"),
    ("moga_b.in1k", "metrics", [{"dataset": "x", "top1": 1.0, "top5": None, "script": None,
                                  "reported_by": None}], "name the script"),
])
def test_malformed_manifest_names_entry_and_field(entry, field, value, expect):
    with pytest.raises(ManifestError) as err:
        parse_manifest(_broken(entry, field, value), "m.json")
    msg = str(err.value)
    assert msg.startswith(f"m.json: entry {entry!r}: field '{field}")
    assert expect in msg


def test_published_entry_needs_pin_digest_and_size():
    data = _broken("moga_a.in1k", "published", True)
    with pytest.raises(ManifestError, match=r"entry 'moga_a.in1k': field '(revision|sha256|size)'.*got None"):
        parse_manifest(data, "m.json")


def test_manifest_level_errors(tmp_path):
    with pytest.raises(ManifestError, match="schema_version"):
        parse_manifest({**RAW, "schema_version": 99})
    two_defaults = copy.deepcopy(RAW)
    two_defaults["entries"]["moga_a.other"] = copy.deepcopy(RAW["entries"]["moga_a.in1k"])
    with pytest.raises(ManifestError, match="model 'moga_a' needs exactly one entry"):
        parse_manifest(two_defaults)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ManifestError, match="bad.json is not valid JSON"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="no weights manifest at .*missing.json"):
        load_manifest(tmp_path / "missing.json")
