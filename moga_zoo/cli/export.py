"""``moga-zoo export``: ONNX, TorchScript, LiteRT or ExecuTorch file, checked against the eager model."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import interrupts
from ..errors import UsageError
from ..fileio import check_output_file
from .predict import add_model_arguments, model_from_args

__all__ = ["COMMANDS", "register"]

COMMANDS = {"export": "export a model to ONNX, TorchScript, LiteRT or ExecuTorch (validated)"}


def register(sub: argparse._SubParsersAction) -> None:
    from ..inference.export import FORMATS
    from ..inference.mobile import BACKENDS

    p = sub.add_parser("export", help=COMMANDS["export"],
                       description="Write the model, then run the file with its own runtime next "
                                   "to the eager model and fail, leaving any old file as it was, "
                                   "unless the outputs agree (max |diff| <= 1e-4 x largest logit). "
                                   "ONNX and TorchScript files take any batch (checked at batch 1 "
                                   "and 3); LiteRT (.tflite) and ExecuTorch (.pte) files take one "
                                   "image (checked on two). LiteRT and ExecuTorch need the extras "
                                   "[litert] and [executorch].")
    add_model_arguments(p)
    p.add_argument("--format", choices=FORMATS,
                   help="default: from the -o suffix (.onnx, .pt/.ts, .tflite, .pte), else onnx")
    p.add_argument("--backend", choices=BACKENDS,
                   help="ExecuTorch delegate (default xnnpack; vulkan is written for a phone's GPU "
                        "and cannot run here, so it needs --no-validate)")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output file (default: MODEL.onnx, .pt, .tflite or .pte in the current "
                        "directory)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's; below 18 uses "
                                             "torch's TorchScript-based exporter)")
    p.add_argument("--input-size", type=int, nargs="+", metavar="N",
                   help="input side, or height width (default: the model's data config)")
    p.add_argument("--no-validate", action="store_true", help="skip the output comparison")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from ..inference.export import (SUFFIX, SUFFIXES, STATIC_FORMATS, export_model, format_of,
                                    input_size_of)

    if args.format is None:
        known = args.output is not None and Path(args.output).suffix.lower() in SUFFIXES
        args.format = format_of(args.output) if known else "onnx"
    if args.input_size is not None and len(args.input_size) not in (1, 2):
        raise UsageError("--input-size takes one side or two (height width)")
    if args.opset is not None and args.format != "onnx":
        raise UsageError("--opset applies to --format onnx only")
    if args.backend is not None and args.format != "executorch":
        raise UsageError("--backend applies to --format executorch only")
    suffix = SUFFIX[args.format]
    output = check_output_file(args.output or args.model.split(":")[-1].replace("/", "_") + suffix,
                               "-o/--output")
    interrupts.leaves(f"nothing was written: {output} is "
                      + ("unchanged" if output.exists() else "not created"))
    model = model_from_args(args)
    size = None
    if args.input_size is not None:
        height, width = (args.input_size * 2)[:2]
        size = (input_size_of(model)[0], height, width)
    check = export_model(model, output, args.format, input_size=size, opset=args.opset,
                         backend=args.backend, validate=not args.no_validate)
    result = {"path": str(output), "format": args.format, "opset": args.opset,
              "backend": args.backend or ("xnnpack" if args.format == "executorch" else None),
              "validation": None if check is None else {
                  "batch_sizes": list(check.batch_sizes), "max_abs_diff": check.max_abs_diff,
                  "tolerance": check.tolerance}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"wrote {output} ({args.format})")
        if check is not None and args.format in STATIC_FORMATS:
            print(f"validated on {len(check.batch_sizes)} random images: max |exported - eager| = "
                  f"{check.max_abs_diff:.3g} (allowed {check.tolerance:.3g})")
        elif check is not None:
            print(f"validated at batch sizes {', '.join(map(str, check.batch_sizes))}: "
                  f"max |exported - eager| = {check.max_abs_diff:.3g} (allowed {check.tolerance:.3g})")
    return 0
