"""``moga-zoo supernet train`` and ``moga-zoo supernet eval``."""
from __future__ import annotations

import argparse
import json

from moga_zoo.cli import CommandError
from moga_zoo.cli.options import (add_dataclass_options, dataclass_from_args, non_negative_int,
                                  positive_int)

COMMANDS = {"supernet": "train a weight-sharing supernet or score architectures"}


def register(sub: argparse._SubParsersAction) -> None:
    from search_repro.supernet.evaluator import BUNDLED_CHECKPOINT, EvaluatorSettings
    from search_repro.supernet.train import add_train_arguments

    p = sub.add_parser("supernet", help=COMMANDS["supernet"])
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = actions.add_parser("train", help="FairNAS strict-fairness training (works under torchrun)")
    add_train_arguments(t)
    t.set_defaults(func=_train)
    e = actions.add_parser("eval", help="supernet accuracy of architectures on the search-val split")
    e.add_argument("archs", nargs="+", metavar="ARCH",
                   help="architecture strings or names (moga_a, moga_b, moga_c)")
    e.add_argument("--checkpoint", default=BUNDLED_CHECKPOINT,
                   help="supernet .safetensors (default: the bundled Fashion-MNIST proxy)")
    e.add_argument("--data-root", default=None, help="the data the supernet was trained on "
                   "(default: the Debian Fashion-MNIST files)")
    add_dataclass_options(e, EvaluatorSettings, parsers={
        "val_size": positive_int, "calib_batches": positive_int, "calib_batch_size": positive_int,
        "calib_seed": non_negative_int, "eval_batch_size": positive_int})
    e.add_argument("--threads", type=positive_int, help="torch threads (default: torch's setting)")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.set_defaults(func=_eval)


def _train(args: argparse.Namespace) -> int:
    from search_repro.supernet.train import config_from_args, train_supernet

    train_supernet(config_from_args(args))
    return 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from moga_zoo.search_space import Architecture
    from search_repro.supernet.evaluator import EvaluatorSettings, SupernetEvaluator
    from search_repro.supernet.report import describe_score

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    archs = [Architecture.parse(a) for a in args.archs]
    settings = vars(dataclass_from_args(EvaluatorSettings, args))
    try:
        evaluator = SupernetEvaluator.from_checkpoint(args.checkpoint, args.data_root, **settings)
    except FileNotFoundError as e:
        raise CommandError(str(e)) from None
    acc = evaluator.accuracy(np.array([a.encode() for a in archs]))
    rows = [{"arch": str(a), "accuracy": float(x)} for a, x in zip(archs, acc)]
    if args.json:
        print(json.dumps({"results": rows, **evaluator.describe()}, indent=2))
    else:
        print(describe_score(evaluator.describe(), acc))
        for name, r in zip(args.archs, rows):
            print(f"{r['accuracy']:.4f}  {name}")
    return 0
