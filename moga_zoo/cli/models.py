"""``moga-zoo list`` and ``moga-zoo info``."""
from __future__ import annotations

import argparse
import json

COMMANDS = {"list": "list the registered MoGA models",
            "info": "architecture table, params, MACs and input config"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help=COMMANDS["list"])
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_list)
    p = sub.add_parser("info", help=COMMANDS["info"])
    p.add_argument("models", nargs="+", metavar="NAME|ARCH",
                   help="a registered name (moga_a) or an architecture string")
    p.add_argument("--resolution", type=int, default=224, help="input side for the MAC count")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_info)


def _list(args: argparse.Namespace) -> int:
    from ..factory import list_models
    from ..weights.manifest import load_manifest

    load_manifest()  # a bad manifest is named (exit 2), never listed as "no published weights"

    rows = [{"name": n, "pretrained_tags": [t for t in list_models(n + ".*", pretrained=True)]}
            for n in list_models()]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['name']}  {' '.join(r['pretrained_tags']) or '(no published weights)'}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from ..summary import describe, format_summary

    infos = [describe(m, args.resolution) for m in args.models]
    if args.json:
        print(json.dumps(infos if len(infos) > 1 else infos[0], indent=2))
    else:
        print("\n\n".join(format_summary(i) for i in infos))
    return 0
