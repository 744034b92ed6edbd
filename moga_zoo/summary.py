"""Human- and machine-readable summaries of a model: architecture table, size, input config."""
from __future__ import annotations

from typing import Any

from .errors import UsageError
from .factory import create, resolve_architecture
from .profile import count_macs, count_params
from .search_space import Architecture

__all__ = ["describe", "architecture_rows", "format_summary"]


def architecture_rows(arch: Architecture) -> list[dict[str, Any]]:
    """One row per searchable layer: index, out channels, stride, activation, choice."""
    return [
        {"layer": i, "out_chs": spec.out_chs, "stride": spec.stride, "act": spec.act,
         "kernel": c.kernel, "expansion": c.expansion, "se": c.se}
        for i, (spec, c) in enumerate(arch.layers(), start=1)
    ]


def describe(name_or_arch: "str | Architecture", resolution: int = 224) -> dict[str, Any]:
    """Summary of a registered model or an architecture string: arch, params, MACs, data config."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
        raise UsageError(f"resolution must be a positive integer (224 for ImageNet), got {resolution!r}")
    # create() first: for a mistyped name it lists the close matches
    model = create(name_or_arch) if isinstance(name_or_arch, str) else create(arch=name_or_arch)
    arch = resolve_architecture(name_or_arch)
    cfg = model.pretrained_cfg
    return {
        "name": str(name_or_arch) if not isinstance(name_or_arch, Architecture) else str(arch),
        "architecture": str(arch),
        "encoding": list(arch.encode()),
        "layers": architecture_rows(arch),
        "params": count_params(model),
        "macs": count_macs(model, (3, resolution, resolution)),
        "resolution": resolution,
        "input": {k: cfg[k] for k in ("input_size", "crop_pct", "interpolation", "mean", "std")},
    }


def format_summary(info: dict[str, Any]) -> str:
    """The text form of :func:`describe`'s output."""
    lines = [f"{info['name']}", f"  architecture: {info['architecture']}",
             f"  params: {info['params']:,}   MACs @{info['resolution']}: {info['macs'] / 1e6:.1f} M",
             f"  input: {info['input']}",
             "  layer  out  stride  act         kernel  expansion  SE"]
    for r in info["layers"]:
        lines.append(f"  {r['layer']:>5}  {r['out_chs']:>3}  {r['stride']:>6}  {r['act']:<10}  "
                     f"{r['kernel']:>6}  {r['expansion']:>9}  {'yes' if r['se'] else '-'}")
    return "\n".join(lines)
