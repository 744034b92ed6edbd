"""Write docs/getting-started.md: every step run for real, its output pasted under it.

    python scripts/getting_started.py [--work runs/getting-started]

Each command runs in a fresh process from the repository root (``moga-zoo ...`` as
``python -m moga_zoo ...``); files go under ``--work`` and the page's plot is copied to
docs/getting-started/. The search and the latency table use small settings so that the whole
page regenerates in a few minutes on a 2-core CPU; the page says which settings each step used.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from machine import machine_line  # noqa: E402

from moga_zoo.fileio import replace_atomic, write_text_atomic  # noqa: E402
from search_repro.search.defaults import BUDGETS  # noqa: E402

PAGE = REPO / "docs" / "getting-started.md"
ASSETS = REPO / "docs" / "getting-started"


class Page:
    """Markdown built step by step, with the real output of every command."""

    def __init__(self, work: str) -> None:
        self.work, self.parts = work, []

    def text(self, markdown: str) -> None:
        self.parts.append(markdown.strip("\n") + "\n")

    def _run(self, argv: list[str], shown: str, language: str) -> None:
        env = {**os.environ, "MOGA_ZOO_CACHE": f"{self.work}/cache"}
        start = time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode not in (0, 1):
            raise SystemExit(f"{shown!r} failed ({done.returncode}):\n{done.stderr}")
        self.parts.append(f"```{language}\n{shown.strip()}\n```\n\n"
                          f"Output ({seconds:.0f} s):\n\n```text\n{done.stdout.rstrip()}\n```\n")

    def command(self, *args: str) -> None:
        """``moga-zoo ARGS`` and what it prints."""
        self._run([sys.executable, "-m", "moga_zoo", *args], "moga-zoo " + " ".join(args), "bash")

    def python(self, code: str) -> None:
        """A Python snippet and what it prints."""
        self._run([sys.executable, "-c", code], code, "python")


def build(work: str) -> str:
    page = Page(work)
    search, table, own = f"{work}/search", f"{work}/my-cpu.json", f"{work}/search-my-cpu"
    page.text(f"""
# Getting started

Every output on this page is real: `python scripts/getting_started.py` ran each step and wrote
the page ({machine_line()}; the machine was shared with other jobs, so times are upper bounds).

## Install

```bash
pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu   # no NVIDIA GPU: the CPU builds, together
pip install -e .              # the models, predict, and the command line
pip install -e ".[export]"    # + onnx, onnxruntime, onnxscript: ONNX export and the fast runtime
pip install -e ".[search]"    # + pymoo, matplotlib: the search reproduction
pip install -e ".[docs]"      # + mkdocs: build this site (mkdocs build --strict)
apt-get install -y dataset-fashion-mnist   # Debian/Ubuntu: the data the bundled supernet is scored on
```

Python 3.10 or newer, PyTorch 2.1 or newer, timm 1.0.9 or newer. Skip the first line when you
want the default PyTorch wheel (with CUDA).

## 1. List and inspect the models
""")
    page.command("list")
    page.command("info", "moga_a")
    page.text("""
## 2. Build any architecture

MoGA-A/B/C by name, or any of the 12^14 architectures of the search space by its string (one
`e<expansion>k<kernel>[se]` choice per searchable layer). The same works with
`timm.create_model("moga_a")` once `moga_zoo` is imported.
""")
    page.python("""import moga_zoo
from moga_zoo.profile import count_params

model = moga_zoo.create("moga_b", num_classes=10)      # any timm keyword argument
custom = moga_zoo.create(arch="e3k3-e3k5-e3k7-e6k3-e6k5se-e6k7-e3k3se-e6k5-e3k7se-e6k3-e3k5-e6k7se-e3k3-e6k5")
print(f"moga_b with 10 classes: {count_params(model):,} parameters")
print(f"custom architecture:    {count_params(custom):,} parameters")""")
    full, smoke = BUDGETS["default"], BUDGETS["smoke"]
    page.text(f"""
## 3. Run the search

`moga-zoo search` reruns MoGA's weighted NSGA-II search on the bundled Fashion-MNIST supernet
and the bundled CPU latency table (budget `default`: {full['pop_size']} architectures x {full['generations']} generations and a
random sample of {full['random_samples']}; see [Search](search.md) for its measured time). This page uses the
`smoke` budget ({smoke['pop_size']} x {smoke['generations']}, {smoke['random_samples']} random) to stay short; drop `--budget smoke` for the real run. Without
`--no-progress` a bar moves with every scored architecture, then the scoring of MoGA-A/B/C and the random
sample.
""")
    page.command("search", "--budget", "smoke", "--no-progress", "--out", search)
    page.text(f"""
Rerunning the same command resumes an interrupted run; `{search}/run.json` lists every
invocation.

## 4. Look at the plot

`{search}/search.png`: every evaluated architecture, the random sample, the final front
(coloured by parameters, the third objective, with the evaluator's standard error) and
MoGA-A/B/C scored the same way. With the `smoke` budget it has few points; the default budget's
plot is in [Search](search.md).

![search plot](getting-started/search.png)

## 5. Build a front member

Every front member is an architecture string that `moga_zoo.create(arch=...)` builds:
""")
    page.python(f"""import json
import moga_zoo
from moga_zoo.profile import count_params

front = json.load(open("{search}/front.json"))["front"]
best = max(front, key=lambda r: r["accuracy"])
model = moga_zoo.create(arch=best["arch"])
print(best["arch"])
print(f"supernet accuracy {{best['accuracy']:.3f}}, {{best['latency_ms']:.2f}} ms, "
      f"{{count_params(model):,}} parameters")""")
    page.text("""
## 6. A latency table for your machine

`moga-zoo lut build` times every (layer, choice) block on this machine and fits a correction on
a few end-to-end runs. The page uses few repeats to stay short; the defaults (100 repeats,
10 calibration architectures) give a steadier table. `moga-zoo lut validate` compares the
table's predictions with end-to-end measurements. See [Latency tables](latency-tables.md).
""")
    page.command("lut", "build", "--device", "cpu", "--runtime", "torch", "--warmup", "3",
                 "--repeats", "10", "--calibration-samples", "3", "--e2e-repeats", "5",
                 "--quiet", "-o", table)
    page.text("## 7. Search on your table\n")
    page.command("search", "--table", table, "--budget", "smoke", "--no-progress", "--out", own)
    page.text("""
## Classify images and export

No ImageNet weights are published yet (the authors hand theirs out on request; see
[Weights](weights.md) to convert them). Until then `--random-weights` runs the whole pipeline
with a random initialisation: the classes are meaningless, everything else is real. With
converted weights, replace `--random-weights` by `--weights converted/moga_a`.
""")
    photo = f"{work}/photo.jpg"
    page.python(f"""from PIL import Image
Image.radial_gradient("L").convert("RGB").resize((320, 240)).save("{photo}")
print("wrote {photo}")""")
    page.command("predict", photo, "--model", "moga_a", "--random-weights", "--top-k", "3")
    page.text("""
The same from Python (with converted weights):

```python
from moga_zoo.inference import predict

for result in predict(["photo.jpg", "holiday/"], "moga_a", weights="converted/moga_a"):
    print(result.source, result.labels[0].name if result.ok else result.error)
```
""")
    page.command("export", "--model", "moga_a", "--random-weights", "-o", f"{work}/moga_a.onnx")
    page.text(f"""
`predict` ran onnxruntime on an ONNX export of the model (the default when onnxruntime is
installed). Exports of real weights are cached and reused; beyond 1 GB the least recently used go
first (`MOGA_ZOO_CACHE_MAX_MB` changes the bound). The export of random weights is never cached,
so the cache (here `{work}/cache`, normally `~/.cache/moga_zoo`) is still empty:
""")
    page.command("cache")
    page.text("""
`moga-zoo cache clear` empties the cache. Details: [Predict and export](predict-export.md).
""")
    return "\n".join(page.parts)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default="runs/getting-started",
                   help="folder for the files the steps write, relative to the repository root")
    a = p.parse_args(argv)
    work = REPO / a.work
    if work.exists():
        shutil.rmtree(work)  # every step starts from nothing, as for a new user
    work.mkdir(parents=True)
    text = build(a.work)
    replace_atomic(ASSETS / "search.png",
                   lambda tmp: shutil.copyfile(work / "search" / "search.png", tmp))
    write_text_atomic(PAGE, text)
    print(f"wrote {PAGE.relative_to(REPO)} and {(ASSETS / 'search.png').relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
