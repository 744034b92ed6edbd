"""moga-zoo publish: the real HfApi uploads a converted folder to the local hub; the printed commit,
pinned in a manifest, then downloads and verifies."""
from __future__ import annotations

import json

import pytest

from hub_server import HubServer
from moga_zoo.cli import main
from moga_zoo.weights import WeightsError, fetch_entry
from moga_zoo.weights.convert import convert_checkpoint
from moga_zoo.weights.manifest import parse_manifest
from moga_zoo.weights.publish import publish_folder
from weights_support import ROOT, authors_model, save_authors_checkpoint


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("pub")
    net = authors_model("moga_c", seed=7)
    return convert_checkpoint(save_authors_checkpoint(net, d / "c.pth"), "moga_c", d / "conv").folder


def test_publish_uploads_exactly_the_folder_and_pins_a_commit(folder, tmp_path, capsys):
    (folder / "notes.txt").write_text("not for upload")
    try:
        with HubServer() as hub:
            assert main(["publish", str(folder), "--repo-id", "org/moga_c", "--endpoint", hub.endpoint]) == 0
            out = capsys.readouterr().out
            pin = json.loads(out[out.index("{"):])
            repo = hub.repos["org/moga_c"]
            assert pin["revision"] == repo.refs["main"] and f"at commit {pin['revision']}" in out
            files = repo.commits[pin["revision"]]
            assert sorted(files) == ["README.md", "config.json", "model.safetensors"]
            for name, data in files.items():
                assert data == (folder / name).read_bytes(), name
            assert hub.requests("POST", "/api/repos/create") and hub.requests("COMMIT", "org/moga_c")

            # the printed values, pinned in a manifest, download and verify
            data = json.loads((ROOT / "weights_manifest.json").read_text())
            data["entries"]["moga_c.in1k"].update(pin)
            entry = parse_manifest(data).entry("moga_c")
            path = fetch_entry(entry, cache_dir=tmp_path, endpoint=hub.endpoint)
            assert path.read_bytes() == (folder / "model.safetensors").read_bytes()

            # publishing again to the existing repo adds a commit (create_repo exist_ok)
            again = publish_folder(folder, "org/moga_c", endpoint=hub.endpoint, commit_message="again")
            assert again.commit == repo.refs["main"] and again.sha256 == pin["sha256"]
    finally:
        (folder / "notes.txt").unlink()


def test_publish_refuses_incomplete_or_foreign_folders(folder, tmp_path):
    with pytest.raises(WeightsError, match="lacks config.json, README.md"):
        (tmp_path / "model.safetensors").write_bytes(b"x")
        publish_folder(tmp_path, "org/x", endpoint="http://127.0.0.1:9")
    (tmp_path / "README.md").write_text("card")
    (tmp_path / "config.json").write_text(json.dumps({"architecture": "resnet50"}))
    with pytest.raises(WeightsError, match="not a moga_zoo model"):
        publish_folder(tmp_path, "org/x", endpoint="http://127.0.0.1:9")
