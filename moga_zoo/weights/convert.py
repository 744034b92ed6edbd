"""Convert the authors' MoGA checkpoint into a timm folder: model.safetensors, config.json, README.md."""
from __future__ import annotations

import os
import pickle
import pickletools
import re
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Mapping

import torch
from timm.models import save_for_hf

from ..authors_layout import convert_authors_state_dict
from ..errors import MogaZooError
from ..fileio import check_output_folder, disk_full_reported, replace_atomic
from .integrity import sha256_file
from .local import WEIGHTS_FILE, install_folder
from .manifest import Manifest, WeightsEntry, load_manifest

__all__ = ["ConversionError", "ConversionResult", "read_authors_checkpoint", "convert_checkpoint",
           "manifest_entry_for"]

CITATION = """@inproceedings{chu2020moga,
  title     = {MoGA: Searching Beyond MobileNetV3},
  author    = {Chu, Xiangxiang and Zhang, Bo and Xu, Ruijun},
  booktitle = {IEEE International Conference on Acoustics, Speech and Signal Processing (ICASSP)},
  year      = {2020}
}"""


class ConversionError(MogaZooError, ValueError):
    """The checkpoint cannot be converted; the message says why and what to do."""


@dataclass(frozen=True)
class ConversionResult:
    """What :func:`convert_checkpoint` wrote."""

    name: str
    folder: Path
    sha256: str
    size: int
    manifest_entry: dict[str, Any]
    installed: Path | None


def read_authors_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The state dict in an authors' checkpoint (``{"model_state": ...}`` or a bare state dict).

    Read with ``torch.load(weights_only=True)``: a file that needs arbitrary pickled code is refused.
    """
    path = Path(path)
    if not path.exists():
        raise ConversionError(f"checkpoint {path} does not exist")
    if not path.is_file():
        raise ConversionError(f"checkpoint {path} is not a regular file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on pickle protocols; the errors say it all
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        found = _pickled_globals(path, str(e))
        if not found:
            raise ConversionError(f"{path} is not a readable PyTorch checkpoint") from None
        raise ConversionError(
            f"{path} holds pickled Python code ({', '.join(found[:3])}), which is never unpickled here. "
            f"Where you trust the file, re-save only its tensors, e.g. torch.save(state_dict, "
            f"'plain.pth'), and convert that") from None
    except Exception as e:  # noqa: BLE001  (unpickling arbitrary bytes fails in any way)
        raise ConversionError(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else 'empty'})") from None
    if isinstance(obj, Mapping) and "model_state" in obj:
        obj = obj["model_state"]
    if not isinstance(obj, Mapping) or not obj:
        raise ConversionError(f"{path}: expected a dict with 'model_state' or a state dict, got "
                              f"{type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise ConversionError(f"{path}: expected a dict with 'model_state' or a state dict of tensors; "
                              f"non-tensor entries: {', '.join(map(str, bad[:5]))}")
    return dict(obj)


def _pickled_globals(path: Path, torch_message: str) -> list[str]:
    """The Python globals (``module.name``) a checkpoint's pickle asks for, read from torch's
    refusal or, where its wording names none, from the pickle's opcodes (nothing is run)."""
    named = re.findall(r"GLOBAL (\S+?)(?:\s| was| whose|$)", torch_message)
    if named:
        return list(dict.fromkeys(named))
    data = b""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                pickles = [n for n in z.namelist() if n.endswith("data.pkl")]
                data = z.read(pickles[0]) if pickles else b""
        else:
            data = path.read_bytes()
    except (OSError, zipfile.BadZipFile):
        return []
    found, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(".".join(strings[-2:]))
            if isinstance(arg, str):
                strings.append(arg)
    except Exception:  # noqa: BLE001  (a malformed pickle ends the scan; what was found stands)
        pass
    return [g for g in dict.fromkeys(found) if not g.startswith(("torch.", "collections.OrderedDict"))]


def _fits(model: torch.nn.Module, sd: Mapping[str, torch.Tensor]) -> bool:
    own = model.state_dict()
    return own.keys() == sd.keys() and all(own[k].shape == sd[k].shape for k in own)


def convert_checkpoint(
    checkpoint: str | os.PathLike,
    model: str,
    out_dir: str | os.PathLike,
    *,
    install: bool = False,
    manifest: Manifest | None = None,
) -> ConversionResult:
    """Map the authors' keys, strict-load into ``model`` (``moga_a`` or ``moga_a.in1k``) and write
    ``model.safetensors`` + timm ``config.json`` + a model card to ``out_dir``.

    With ``install=True`` the folder is also copied to the local weights dir, where
    ``pretrained=True`` finds it offline.
    """
    from ..factory import create, list_models  # the factory imports this package's loader

    out = check_output_folder(out_dir, "-o/--output")
    manifest = manifest or load_manifest()
    base = model.split(".", 1)[0]
    if base not in list_models():
        raise ConversionError(f"--model must be one of {', '.join(list_models())}, got {model!r}")
    try:
        entry = manifest.entry(model)
    except KeyError as e:
        raise ConversionError(str(e.args[0])) from None
    raw = read_authors_checkpoint(checkpoint)
    try:
        state_dict = convert_authors_state_dict(raw)
    except KeyError as e:
        raise ConversionError(f"{checkpoint}: {e.args[0]}; is this a MoGA checkpoint?") from None
    net = create(entry.name, num_classes=state_dict["classifier.weight"].shape[0]
                 if "classifier.weight" in state_dict else entry.num_classes)
    if not _fits(net, state_dict):
        fitting = [m for m in list_models() if m != base and _fits(create(m, num_classes=net.num_classes),
                                                                    state_dict)]
        hint = f" It fits {', '.join(fitting)}: use --model {fitting[0]}." if fitting else ""
        own = net.state_dict()
        missing = sorted(own.keys() - state_dict.keys())
        unused = sorted(state_dict.keys() - own.keys())
        shapes = [k for k in own.keys() & state_dict.keys() if own[k].shape != state_dict[k].shape]
        raise ConversionError(f"{checkpoint} does not fit {base}: missing {missing[:3]}, unused "
                              f"{unused[:3]}, other shapes {sorted(shapes)[:3]}.{hint}")
    net.load_state_dict(state_dict, strict=True)  # every tensor consumed, every parameter set
    out.mkdir(parents=True, exist_ok=True)
    size = sum(v.numel() * v.element_size() for v in net.state_dict().values())
    with tempfile.TemporaryDirectory(dir=out, prefix=".convert-") as tmp, \
            disk_full_reported(out / WEIGHTS_FILE, size):
        save_for_hf(net, tmp, safe_serialization=True)
        reloaded = create(entry.name, weights=tmp).state_dict()  # the one loading path, round trip
        if any(not torch.equal(v, reloaded[k]) for k, v in net.state_dict().items()):
            raise ConversionError(f"the written {WEIGHTS_FILE} does not load back equal to the converted "
                                  f"model; nothing was written to {out}")
        sha, size = sha256_file(Path(tmp) / WEIGHTS_FILE), os.path.getsize(Path(tmp) / WEIGHTS_FILE)
        source = (f"converted with `moga-zoo convert` from {Path(checkpoint).name} "
                  f"(sha256 {sha256_file(checkpoint)})")
        entry_dict = manifest_entry_for(entry, sha, size, source, net.num_classes)
        (Path(tmp) / "README.md").write_text(model_card(entry, net, sha, source), encoding="utf-8")
        for fname in (WEIGHTS_FILE, "config.json", "README.md"):
            replace_atomic(out / fname, partial(os.replace, Path(tmp) / fname))
    installed = install_folder(out, entry.name) if install else None
    return ConversionResult(entry.name, out, sha, size, entry_dict, installed)


def manifest_entry_for(entry: WeightsEntry, sha256: str, size: int, source: str,
                       num_classes: int) -> dict[str, Any]:
    """The manifest entry for a converted file; ``published``/``revision`` are set after publishing."""
    return {
        "default": entry.default, "published": False, "hf_hub_id": entry.hf_hub_id, "revision": None,
        "filename": WEIGHTS_FILE, "sha256": sha256, "size": size, "num_classes": num_classes,
        "input_size": list(entry.input_size), "crop_pct": entry.crop_pct,
        "interpolation": entry.interpolation, "mean": list(entry.mean), "std": list(entry.std),
        "license": entry.license, "source": source,
        "metrics": [{"dataset": m.dataset, "top1": m.top1, "top5": m.top5, "script": m.script,
                     "reported_by": m.reported_by} for m in entry.metrics],
    }


def model_card(entry: WeightsEntry, net: torch.nn.Module, sha256: str, source: str) -> str:
    """README.md of a converted folder: architecture, numbers with their source, license, citation."""
    from ..factory import resolve_architecture
    from ..profile import count_macs, count_params

    arch = resolve_architecture(entry.model)
    h, w = entry.input_size[1:]
    metrics = "\n".join(
        f"| {m.dataset} | {m.top1} | {m.top5 if m.top5 is not None else '-'} | "
        f"{m.script or m.reported_by} |" for m in entry.metrics) or "| - | - | - | - |"
    return f"""---
tags:
- image-classification
- timm
- moga_zoo
library_name: timm
license: {entry.license}
---
# {entry.name}

MoGA ({entry.model}) from "MoGA: Searching Beyond MobileNetV3" (arXiv:1908.01314), as a timm
`MobileNetV3`. Load with `moga_zoo.create("{entry.model}", pretrained=True)` or, after
`import moga_zoo`, `timm.create_model("hf-hub:<this repo>", pretrained=True)`.

- architecture: `{arch}`
- parameters: {count_params(net):,}; multiply-adds at {h}x{w}: {count_macs(net, entry.input_size) / 1e6:.1f} M
- eval transform: resize {round(h / entry.crop_pct)}, center crop {h} ({entry.interpolation}),
  mean {list(entry.mean)}, std {list(entry.std)}
- `{WEIGHTS_FILE}` sha256: `{sha256}`
- source: {source}

| dataset | top-1 | top-5 | measured by / reported by |
|---|---|---|---|
{metrics}

## License

{entry.license}, as the authors' release (xiaomi-automl/MoGA).

## Citation

```bibtex
{CITATION}
```
"""
