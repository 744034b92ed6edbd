"""``moga-zoo predict``: top-k classes of image files and directories."""
from __future__ import annotations

import argparse
import json
import sys


from ..errors import UsageError
from . import CommandError
from .options import positive_int

__all__ = ["COMMANDS", "register", "add_model_arguments", "model_from_args"]

COMMANDS = {"predict": "classify images (files or directories) with a MoGA model"}


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """``--model`` and where its weights come from (shared with ``moga-zoo export``)."""
    p.add_argument("--model", default="moga_a", metavar="NAME",
                   help="moga_a[.tag], moga_b, moga_c, an architecture string, or a timm "
                        "local-dir:PATH / hf-hub:ORG/NAME (default: moga_a)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--weights", metavar="PATH",
                        help="local weights file or converted folder (default: the published weights)")
    source.add_argument("--random-weights", action="store_true",
                        help="skip loading weights (random initialisation; for testing a pipeline)")


def model_from_args(args: argparse.Namespace):
    """The model named by :func:`add_model_arguments`' options, in eval mode."""
    from ..inference import load_model
    from ..weights.errors import WeightsNotPublishedError

    if ":" in args.model:
        return load_model(args.model)
    try:
        return load_model(args.model, weights=args.weights, pretrained=not args.random_weights)
    except WeightsNotPublishedError as e:
        raise CommandError(f"{e} Here: --weights DIR; or --random-weights to run the pipeline with "
                           f"random weights (meaningless classes)") from None


def register(sub: argparse._SubParsersAction) -> None:
    from ..inference import RUNTIMES

    p = sub.add_parser("predict", help=COMMANDS["predict"],
                       description="Top-k classes of each image. Images are read with pillow "
                                   "(EXIF orientation applied; greyscale, 16-bit, palette, CMYK and "
                                   "transparent images converted to RGB) and preprocessed with the "
                                   "model's own timm eval transform. Exit code 1 if any image failed.")
    p.add_argument("inputs", nargs="+", metavar="IMAGE|DIR",
                   help="image files, or directories searched recursively for images")
    add_model_arguments(p)
    p.add_argument("--top-k", type=positive_int, default=5, help="classes to report per image (default: 5)")
    p.add_argument("--batch-size", type=positive_int, default=32,
                   help="images per forward pass (default: 32)")
    p.add_argument("--runtime", choices=("auto",) + RUNTIMES, default="auto",
                   help="auto (default): onnxruntime when its export of the model is cached or "
                        "there are enough images for an export to pay off, else torch")
    p.add_argument("--threads", type=positive_int, help="CPU threads (default: torch's setting)")
    p.add_argument("--json", action="store_true", help="print one JSON list of results")
    p.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    from ..inference import Classifier, find_images

    files = find_images(args.inputs)
    if not files:
        raise UsageError(f"no image files found in {' '.join(args.inputs)}")
    classifier = Classifier(model_from_args(args), runtime=args.runtime, batch_size=args.batch_size,
                            threads=args.threads, cache=False if args.random_weights else None,
                            images=len(files))
    weights = ("random weights: the classes are meaningless" if args.random_weights
               else f"weights {args.weights or args.model}")
    print(f"moga-zoo predict: runtime {classifier.runtime} ({classifier.runtime_reason}); "
          f"{weights}", file=sys.stderr)
    results = classifier.predict(files, top_k=args.top_k)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2, allow_nan=False))
    for r in results:
        if not r.ok:
            print(f"moga-zoo predict: {r.error}", file=sys.stderr)
        elif not args.json:
            print(r.source)
            for label in r.labels:
                print(f"  {label.probability:7.4f}  {label.name}  [{label.index}]")
    return 0 if all(r.ok for r in results) else 1
