"""What the exact canvas rendering changed: bytes and the bundled supernet's scores.

The proxy's canvases used to be sampled with torch's ``affine_grid`` + ``grid_sample``, whose last
bits depend on the CPU's SIMD code (an Intel AVX-512 machine rendered other bytes than AMD ones);
they are now rendered with elementwise arithmetic only (``search_repro.data.place_garments``).
This script renders the proxy's splits both ways on this machine, counts the pixels that differ,
and scores spread architectures with the bundled supernet on both, so the docs can say what the
change does to the evidence computed from the old bytes.

    python scripts/proxy_render_change.py --out evidence/proxy/render-change.json
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import kendalltau
from tqdm import tqdm

from moga_zoo.fileio import write_json_atomic
from moga_zoo.search_space import MOGA_A, MOGA_B, MOGA_C
from search_repro import data
from search_repro.proxy import capacity_ladder, reference_architectures
from search_repro.supernet.checkpoint import load_supernet
from search_repro.supernet.evaluator import (BUNDLED_CHECKPOINT, SupernetEvaluator,
                                             load_checkpoint_data)


def affine_kernel_place(images, scale, x0, y0, size, angle=None):
    """The former rendering: torch's affine sampling kernel (CPU-dependent last bits)."""
    n, side = len(images), images.shape[-1]
    phi = np.radians(np.zeros(n) if angle is None else np.asarray(angle, dtype=np.float64))
    cos, sin = np.cos(phi), np.sin(phi)
    a = size / (side * scale)
    bx = 2.0 / side * ((size / 2 - 0.5 - x0) / scale) + 1.0 / side - 1.0
    by = 2.0 / side * ((size / 2 - 0.5 - y0) / scale) + 1.0 / side - 1.0
    theta = torch.tensor(np.stack([np.stack([a * cos, -a * sin, cos * bx - sin * by], 1),
                                   np.stack([a * sin, a * cos, sin * bx + cos * by], 1)], 1),
                         dtype=torch.float32)
    grid = F.affine_grid(theta, [n, 1, size, size], align_corners=False)
    return F.grid_sample(images.float()[:, None], grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)[:, 0]


def main(argv: "list[str] | None" = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    _, meta = load_supernet(BUNDLED_CHECKPOINT)
    exact = load_checkpoint_data(meta)
    data.place_garments, kept = affine_kernel_place, data.place_garments
    try:
        former = load_checkpoint_data(meta)
    finally:
        data.place_garments = kept
    pixels = {}
    for split in ("train", "search_val", "test"):
        a, b = getattr(exact, split).images, getattr(former, split).images
        changed = a.int() - b.int()
        pixels[split] = {"pixels": a.numel(), "differing": int((changed != 0).sum()),
                         "images_touched": int((changed != 0).flatten(1).any(1).sum()),
                         "images": len(a), "max_abs_difference": int(changed.abs().max())}
    archs = {"moga_a": MOGA_A, "moga_b": MOGA_B, "moga_c": MOGA_C,
             **capacity_ladder(), **reference_architectures()}
    scores = {}
    for name, splits in (("exact", exact), ("former", former)):
        evaluator = SupernetEvaluator.from_checkpoint(BUNDLED_CHECKPOINT, data=splits)
        scores[name] = {k: 100 * evaluator.accuracy_arch(v)
                        for k, v in tqdm(archs.items(), desc=f"scoring on the {name} bytes",
                                         file=sys.stderr)}
    x = np.array([scores["exact"][k] for k in archs])
    y = np.array([scores["former"][k] for k in archs])
    report = {
        "command": "python scripts/proxy_render_change.py --out " + args.out.as_posix(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "pixels": pixels,
        "architectures": len(archs),
        "kendall_tau_exact_vs_former": float(kendalltau(x, y).statistic),
        "max_abs_score_difference_points": float(np.abs(x - y).max()),
        "mean_abs_score_difference_points": float(np.abs(x - y).mean()),
        "scores_points": {k: {"exact": round(scores["exact"][k], 3),
                              "former": round(scores["former"][k], 3)} for k in archs}}
    write_json_atomic(args.out, report)
    print(f"pixels differing: train {pixels['train']['differing']} of {pixels['train']['pixels']}"
          f", search_val {pixels['search_val']['differing']} of {pixels['search_val']['pixels']};"
          f" supernet scores of {len(archs)} architectures: tau "
          f"{report['kendall_tau_exact_vs_former']:.3f}, max |diff| "
          f"{report['max_abs_score_difference_points']:.3f} points")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
