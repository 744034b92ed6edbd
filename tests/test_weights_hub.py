"""Hub download against a real HTTP server on 127.0.0.1: pinning, sha256, faults, cache hygiene,
offline use, concurrent cold-cache loads and the timm paths (``moga_a``, ``hf-hub:``)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants as hf_constants

from hub_server import HubServer
from moga_zoo.weights import ChecksumError, WeightsDownloadError, fetch_entry
from moga_zoo.weights.convert import convert_checkpoint
from moga_zoo.weights.manifest import load_manifest
from weights_support import authors_model, finish, published_manifest, save_authors_checkpoint, start_python

REPO = "org/moga_a-test"


@pytest.fixture(scope="module")
def hub():
    with HubServer() as server:
        yield server


@pytest.fixture(scope="module")
def published(hub, tmp_path_factory):
    """A converted MoGA-A committed to the local hub, a manifest pinned to it, reference logits."""
    d = tmp_path_factory.mktemp("published")
    net = authors_model("moga_a", seed=5)
    folder = convert_checkpoint(save_authors_checkpoint(net, d / "authors.pth"), "moga_a", d / "conv").folder
    commit = hub.commit_folder(REPO, folder)
    manifest = published_manifest(d / "manifest.json", folder, REPO, commit)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.save({"x": x, "logits": net(x)}, d / "ref.pt")
    data = (folder / "model.safetensors").read_bytes()
    return {"dir": d, "folder": folder, "commit": commit, "manifest": manifest, "ref": d / "ref.pt",
            "entry": load_manifest(manifest).entry("moga_a"), "sha256": hashlib.sha256(data).hexdigest()}


def _fetch(hub, published, cache, **kw):
    return fetch_entry(kw.pop("entry", published["entry"]), cache_dir=cache, endpoint=hub.endpoint, **kw)


def _cache_is_clean(cache: Path, sha256: str) -> None:
    """Nothing partial, nothing corrupt: every blob present has the published digest."""
    assert not list(cache.rglob("*.incomplete"))
    for blob in cache.rglob("blobs/*"):
        if blob.stat().st_size > 1000:
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == sha256, blob


def _clean_error(err: pytest.ExceptionInfo) -> None:
    """One message, no chained traceback from inside the client."""
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_download_pins_commit_verifies_and_reuses_cache(hub, published, tmp_path):
    path = _fetch(hub, published, tmp_path)
    assert published["commit"] in str(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == published["sha256"]
    heads = hub.requests("HEAD", f"/resolve/{published['commit']}/")
    assert heads and all(r[1].endswith("/model.safetensors") for r in heads)
    n = len(hub.log)
    assert _fetch(hub, published, tmp_path) == path
    assert len(hub.log) == n  # pinned commit in cache: no request at all


def test_corrupted_bytes_are_removed_and_retry_succeeds(hub, published, tmp_path):
    hub.inject("corrupt", "GET", "/blobs/")
    with pytest.raises(ChecksumError, match="removed from the cache") as err:
        _fetch(hub, published, tmp_path)
    _clean_error(err)
    assert not list(tmp_path.rglob("model.safetensors")) and not list(tmp_path.rglob("blobs/*"))
    path = _fetch(hub, published, tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == published["sha256"]


def test_truncated_body_is_resumed(hub, published, tmp_path):
    hub.inject("truncate", "GET", "/blobs/")
    n = len(hub.requests("GET", "/blobs/"))
    path = _fetch(hub, published, tmp_path)
    assert len(hub.requests("GET", "/blobs/")) == n + 2  # the cut one, then the resumed range
    assert hashlib.sha256(path.read_bytes()).hexdigest() == published["sha256"]
    _cache_is_clean(tmp_path, published["sha256"])


def test_short_body_is_an_error_and_caches_nothing(hub, published, tmp_path):
    hub.inject("truncate", "GET", "/blobs/", lie=True)  # a proxy that cut the file and the length
    with pytest.raises(WeightsDownloadError, match="ended early.*nothing was cached") as err:
        _fetch(hub, published, tmp_path)
    _clean_error(err)
    assert not list(tmp_path.rglob("blobs/*"))
    _cache_is_clean(tmp_path, published["sha256"])


def test_server_errors(hub, published, tmp_path):
    hub.inject("500", "GET", "/blobs/", times=50)
    with pytest.raises(WeightsDownloadError, match="answered HTTP 500; nothing was cached") as err:
        _fetch(hub, published, tmp_path)
    _clean_error(err)
    assert not list(tmp_path.rglob("blobs/*"))
    hub.faults.clear()
    hub.inject("500", "HEAD")  # a transient failure of the metadata call: retried
    path = _fetch(hub, published, tmp_path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == published["sha256"]
    hub.inject("404", "HEAD", times=50)
    with pytest.raises(WeightsDownloadError, match="answered HTTP 404") as err:
        _fetch(hub, published, tmp_path / "cold")
    _clean_error(err)
    hub.faults.clear()


def test_wrong_repo_revision_or_file_say_what_is_wrong(hub, published, tmp_path):
    from dataclasses import replace

    e = published["entry"]
    cases = [
        (replace(e, hf_hub_id="org/missing"), "not found on .* HF_TOKEN"),
        (replace(e, revision="0" * 40), "does not exist in .* pins a wrong revision"),
        (replace(e, filename="other.safetensors"), "'other.safetensors' is not in"),
    ]
    for entry, pattern in cases:
        with pytest.raises(WeightsDownloadError, match=pattern) as err:
            _fetch(hub, published, tmp_path, entry=entry)
        _clean_error(err)


def test_slow_responses(hub, published, tmp_path, monkeypatch):
    hub.inject("slow", "GET", "/blobs/", delay=0.5)  # slow but within the timeout
    assert _fetch(hub, published, tmp_path / "a").is_file()
    monkeypatch.setattr(hf_constants, "HF_HUB_DOWNLOAD_TIMEOUT", 0.5)
    hub.inject("slow", "GET", "/blobs/", delay=2.0)  # past the read timeout: the client retries
    n = len(hub.requests("GET", "/blobs/"))
    path = _fetch(hub, published, tmp_path / "b")
    assert len(hub.requests("GET", "/blobs/")) >= n + 2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == published["sha256"]
    _cache_is_clean(tmp_path, published["sha256"])


def test_private_repo_needs_the_token(hub, published, tmp_path):
    from dataclasses import replace

    hub.commit_folder("org/private", published["folder"], token="hf_secret")
    entry = replace(published["entry"], hf_hub_id="org/private",
                    revision=hub.repos["org/private"].refs["main"])
    with pytest.raises(WeightsDownloadError, match="private and no valid token"):
        _fetch(hub, published, tmp_path, entry=entry, token=False)
    assert _fetch(hub, published, tmp_path, entry=entry, token="hf_secret").is_file()


_LOAD = """
import json, sys, torch, moga_zoo, timm
from moga_zoo.weights import WeightsError
ref = torch.load({ref!r}, weights_only=True)
def same(m):
    with torch.no_grad():
        # another process may pick other CPU kernels than the one that made the reference
        # (thread count, oneDNN state), so compare to float32 rounding, not bit for bit; a model
        # with other weights is off by orders of magnitude more
        out = m.eval()(ref["x"])
        return bool(torch.allclose(out, ref["logits"], rtol=1e-4, atol=1e-4 * float(ref["logits"].abs().max())))
out = {{}}
{body}
print(json.dumps(out))
"""


def _env(hub, published, home: Path, **extra) -> dict[str, str]:
    return {"HF_HOME": str(home), "HF_ENDPOINT": hub.endpoint, "MOGA_ZOO_MANIFEST": str(published["manifest"]),
            "MOGA_ZOO_WEIGHTS": str(home / "no-installed-weights"), **extra}


def _result(proc) -> dict:
    rc, out, err = finish(proc)
    assert rc == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_concurrent_cold_cache_then_offline(hub, published, tmp_path):
    """Three processes load on one cold cache (huggingface_hub's file lock: one download); then
    offline with the warm cache works without a request, and offline with a cold cache says so."""
    hub.inject("slow", "GET", "/blobs/", delay=1.0)  # widen the window in which they overlap
    n_get = len(hub.requests("GET", "/blobs/"))
    code = _LOAD.format(ref=str(published["ref"]), body='out["same"] = same(moga_zoo.create("moga_a", pretrained=True))')
    procs = [start_python(code, _env(hub, published, tmp_path)) for _ in range(3)]
    assert [_result(p)["same"] for p in procs] == [True] * 3
    assert len(hub.requests("GET", "/blobs/")) == n_get + 1
    _cache_is_clean(tmp_path, published["sha256"])

    n = len(hub.log)
    body = """
out["same"] = same(timm.create_model("moga_a", pretrained=True))
try:
    timm.create_model("moga_a", pretrained=True, cache_dir=sys.argv[0] + "-cold")
except WeightsError as e:
    out["cold"] = str(e)
"""
    r = _result(start_python(_LOAD.format(ref=str(published["ref"]), body=body),
                             _env(hub, published, tmp_path, HF_HUB_OFFLINE="1")))
    assert r["same"] and len(hub.log) == n
    assert "offline mode (HF_HUB_OFFLINE=1) and the file is not in the cache" in r["cold"]


def test_timm_paths_verify_and_round_trip(hub, published, tmp_path):
    """timm.create_model("moga_a", pretrained=True) goes through verification (a corrupt download
    is refused, then fetched again); hf-hub: and moga_zoo.create load equal to the source."""
    hub.inject("corrupt", "GET", "/blobs/")
    body = f"""
try:
    timm.create_model("moga_a", pretrained=True)
except WeightsError as e:
    out["corrupt"] = type(e).__name__
out["timm"] = same(timm.create_model("moga_a.in1k", pretrained=True))
out["cfg_hub_id"] = timm.models.get_pretrained_cfg("moga_a.in1k").hf_hub_id
out["hf_hub"] = same(timm.create_model("hf-hub:{REPO}", pretrained=True))
out["listed"] = timm.list_models("moga*", pretrained=True)
"""
    r = _result(start_python(_LOAD.format(ref=str(published["ref"]), body=body),
                             _env(hub, published, tmp_path)))
    assert r == {"corrupt": "ChecksumError", "timm": True, "cfg_hub_id": REPO, "hf_hub": True,
                 "listed": ["moga_a.in1k"]}
