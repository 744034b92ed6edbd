#!/usr/bin/env bash
# Build, validate and analyse the CUDA latency table on a GPU machine, in one go (~3-5 min on an H100).
# Writes into $OUT (default ./out): the table, its validation report + plot, the CPU-vs-GPU analysis.
# Afterwards copy the table into search_repro/latency/tables/, run
# `moga-zoo lut index`, and commit the table, index.json and docs/latency/*.
set -euo pipefail
OUT=${OUT:-out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
NAME=cuda-torch-224-b1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/$NAME.gpu.txt"
python -m moga_zoo lut build --device cuda --runtime torch --threads 1 --batch 1 --resolution 224 \
    --warmup 50 --repeats 200 --calibration-samples 12 --e2e-repeats 100 -o "$OUT/$NAME.json" --quiet
python -m moga_zoo lut validate "$OUT/$NAME.json" --samples 100 --seed 1 --warmup 20 --repeats 100 \
    --plot "$OUT/$NAME.png" --report "$OUT/$NAME.validation.json" --quiet
python scripts/gpu_awareness.py --a cpu-torch-224-b1-t1 --b "$OUT/$NAME.json" --samples 100000 \
    --plot "$OUT/awareness-cpu-vs-cuda.png" --report "$OUT/awareness-cpu-vs-cuda.json"
