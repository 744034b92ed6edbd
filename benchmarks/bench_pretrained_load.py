"""Time ``moga_zoo.create(name, pretrained=True)`` from a warm hub cache.

Baselines measured in the same run: building without weights, loading a local converted folder
(``weights=``), and timm's own ``mobilenetv3_large_100`` with ``pretrained_cfg_overlay=dict(file=...)``.
The hub is the test suite's local server (tests/hub_server.py) on 127.0.0.1, the weights are a
random MoGA-A saved as timm safetensors; the cache is filled once before timing.

    flock /tmp/moga_timing.lock python benchmarks/bench_pretrained_load.py [--runs 7] [--model moga_a]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from hub_server import HubServer  # noqa: E402  (a real HTTP server; no huggingface_hub import)


def median_seconds(fn, runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--model", default="moga_a", choices=("moga_a", "moga_b", "moga_c"))
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_pretrained_"))
    with HubServer() as hub:
        # huggingface_hub reads these at import: set them first
        os.environ.update(HF_HOME=str(work / "hf"), HF_ENDPOINT=hub.endpoint,
                          HF_HUB_DISABLE_PROGRESS_BARS="1", MOGA_ZOO_WEIGHTS=str(work / "none"))
        import timm
        from machine import machine_line
        from timm.models import save_for_hf

        import moga_zoo
        from moga_zoo.weights.integrity import sha256_file

        folder = work / "converted"
        save_for_hf(moga_zoo.create(args.model), folder, safe_serialization=True)
        mnv3 = work / "mnv3.safetensors"
        from safetensors.torch import save_file
        save_file(timm.create_model("mobilenetv3_large_100").state_dict(), str(mnv3))
        commit = hub.commit_folder(f"bench/{args.model}", folder)
        manifest = json.loads((ROOT / "weights_manifest.json").read_text())
        weights = folder / "model.safetensors"
        manifest["entries"][f"{args.model}.in1k"].update(
            published=True, hf_hub_id=f"bench/{args.model}", revision=commit,
            sha256=sha256_file(weights), size=weights.stat().st_size)
        (work / "manifest.json").write_text(json.dumps(manifest))
        os.environ["MOGA_ZOO_MANIFEST"] = str(work / "manifest.json")

        moga_zoo.create(args.model, pretrained=True)  # fill the cache (one download)
        n_requests = len(hub.log)
        cases = {
            f"create('{args.model}') (no weights)": lambda: moga_zoo.create(args.model),
            f"create('{args.model}', pretrained=True), warm cache": lambda: moga_zoo.create(
                args.model, pretrained=True),
            f"create('{args.model}', weights=converted folder)": lambda: moga_zoo.create(
                args.model, weights=folder),
            "timm mobilenetv3_large_100, overlay file=": lambda: timm.create_model(
                "mobilenetv3_large_100", pretrained=True, pretrained_cfg_overlay=dict(file=str(mnv3))),
        }
        for fn in cases.values():  # warm-up: imports, allocator, page cache
            fn()
        results = {name: median_seconds(fn, args.runs) for name, fn in cases.items()}
        assert len(hub.log) == n_requests, "a warm, pinned cache must not touch the network"
    base = results[f"create('{args.model}') (no weights)"][0]
    print(f"{machine_line()} | timm {timm.__version__}")
    print(f"median of {args.runs} runs (min in brackets); ratio = median / no-weights build\n")
    print(f"| {'case':<52} | {'median s':>8} | {'min s':>6} | {'ratio':>5} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 8}|{'-' * 7}|")
    for name, (med, best) in results.items():
        print(f"| {name:<52} | {med:8.3f} | {best:6.3f} | {med / base:5.2f} |")
    warm = results[f"create('{args.model}', pretrained=True), warm cache"][0]
    print(f"\ntarget: warm-cache pretrained create under 0.5 s -> {'met' if warm < 0.5 else 'NOT met'} "
          f"({warm:.3f} s)")


if __name__ == "__main__":
    main()
