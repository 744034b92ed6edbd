"""Shared helpers of the test_weights_* tests: realistic authors' checkpoints, converted folders,
published manifests and subprocesses with their own hub environment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from authors_reference import MOGA_A, MOGA_B, MOGA_C, MoGAAuthors, randomize_and_calibrate

ROOT = Path(__file__).resolve().parents[1]
CHOICES = {"moga_a": MOGA_A, "moga_b": MOGA_B, "moga_c": MOGA_C}


def authors_model(model: str = "moga_a", seed: int = 0) -> MoGAAuthors:
    """An input-sensitive authors'-layout model (random BN affine, calibrated statistics)."""
    torch.manual_seed(seed)
    net = MoGAAuthors(CHOICES[model])
    randomize_and_calibrate(net, seed=seed)
    return net.eval()


def save_authors_checkpoint(net: MoGAAuthors, path: Path, wrap: bool = True) -> Path:
    """Save as the authors do: ``{"model_state": state_dict}`` (or a bare state dict)."""
    sd = net.state_dict()
    torch.save({"model_state": sd, "epoch": 250} if wrap else sd, path)
    return path


def published_manifest(path: Path, folder: Path, repo_id: str, commit: str, model: str = "moga_a") -> Path:
    """The packaged manifest with ``model.in1k`` published at ``repo_id@commit`` (file in ``folder``)."""
    from moga_zoo.weights.integrity import sha256_file

    data = json.loads((ROOT / "weights_manifest.json").read_text())
    entry = data["entries"][f"{model}.in1k"]
    weights = folder / "model.safetensors"
    entry.update(published=True, hf_hub_id=repo_id, revision=commit, sha256=sha256_file(weights),
                 size=weights.stat().st_size)
    path.write_text(json.dumps(data, indent=2))
    return path


def start_python(code: str, env: dict[str, str]) -> subprocess.Popen:
    """Start ``code`` in a fresh interpreter (huggingface_hub reads HF_* variables at import)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "MOGA_ZOO_"))}
    full_env.update(env)
    full_env.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return subprocess.Popen([sys.executable, "-c", code], env=full_env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
    """Wait for a started interpreter: (exit code, stdout, stderr)."""
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err
