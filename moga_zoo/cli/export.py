"""``moga-zoo export``: ONNX or TorchScript file, checked against the eager model."""
from __future__ import annotations

import argparse
import json

from ..errors import UsageError
from ..fileio import check_output_file
from .predict import add_model_arguments, model_from_args

__all__ = ["COMMANDS", "register"]

COMMANDS = {"export": "export a model to ONNX or TorchScript (validated)"}


def register(sub: argparse._SubParsersAction) -> None:
    from ..inference import FORMATS

    p = sub.add_parser("export", help=COMMANDS["export"],
                       description="Write the model with a dynamic batch dimension, then run the "
                                   "file next to the eager model at batch 1 and 3 and fail unless "
                                   "the outputs agree (max |diff| <= 1e-4 x largest logit).")
    add_model_arguments(p)
    p.add_argument("--format", choices=FORMATS, default="onnx", help="default: onnx")
    p.add_argument("-o", "--output", metavar="PATH",
                   help="output file (default: MODEL.onnx or MODEL.pt in the current directory)")
    p.add_argument("--opset", type=int, help="ONNX opset (default: the exporter's; below 18 uses "
                                             "torch's TorchScript-based exporter)")
    p.add_argument("--input-size", type=int, nargs="+", metavar="N",
                   help="input side, or height width (default: the model's data config)")
    p.add_argument("--no-validate", action="store_true", help="skip the output comparison")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from ..inference import export_model
    from ..inference.export import input_size_of

    if args.input_size is not None and len(args.input_size) not in (1, 2):
        raise UsageError("--input-size takes one side or two (height width)")
    if args.opset is not None and args.format != "onnx":
        raise UsageError("--opset applies to --format onnx only")
    suffix = ".onnx" if args.format == "onnx" else ".pt"
    output = check_output_file(args.output or args.model.split(":")[-1].replace("/", "_") + suffix,
                               "-o/--output")
    model = model_from_args(args)
    size = None
    if args.input_size is not None:
        height, width = (args.input_size * 2)[:2]
        size = (input_size_of(model)[0], height, width)
    check = export_model(model, output, args.format, input_size=size, opset=args.opset,
                         validate=not args.no_validate)
    result = {"path": str(output), "format": args.format, "opset": args.opset,
              "validation": None if check is None else {
                  "batch_sizes": list(check.batch_sizes), "max_abs_diff": check.max_abs_diff,
                  "tolerance": check.tolerance}}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"wrote {output} ({args.format})")
        if check is not None:
            print(f"validated at batch sizes {', '.join(map(str, check.batch_sizes))}: "
                  f"max |exported - eager| = {check.max_abs_diff:.3g} (allowed {check.tolerance:.3g})")
    return 0
