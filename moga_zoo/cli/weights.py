"""``moga-zoo convert`` (authors' checkpoint -> timm folder) and ``moga-zoo publish`` (folder -> hub)."""
from __future__ import annotations

import argparse
import json

from . import CommandError

COMMANDS = {
    "convert": "convert the authors' MoGA checkpoint to model.safetensors + config.json + model card",
    "publish": "upload a converted folder to the Hugging Face hub; prints the commit to pin in "
               "weights_manifest.json",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help=COMMANDS["convert"])
    p.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="the authors' .pth ({'model_state': ...} or a bare state dict)")
    p.add_argument("--model", required=True, metavar="NAME",
                   help="moga_a, moga_b or moga_c (or NAME.TAG, e.g. moga_a.in1k)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write")
    p.add_argument("--install", action="store_true",
                   help="also install into the local weights folder, so pretrained=True loads it offline")
    p.set_defaults(func=_convert)
    p = sub.add_parser("publish", help=COMMANDS["publish"])
    p.add_argument("folder", metavar="DIR", help="a folder written by `moga-zoo convert`")
    p.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="hub repository (created if missing)")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", metavar="BRANCH", help="branch to commit to (default: main)")
    p.add_argument("--endpoint", metavar="URL", help="hub endpoint (default: $HF_ENDPOINT or huggingface.co)")
    p.set_defaults(func=_publish)


def _convert(args: argparse.Namespace) -> int:
    from ..weights.convert import convert_checkpoint
    from ..weights.errors import WeightsError

    try:
        r = convert_checkpoint(args.checkpoint, args.model, args.output, install=args.install)
    except WeightsError as e:
        raise CommandError(str(e)) from None
    print(f"wrote {r.folder}/model.safetensors ({r.size:,} bytes), config.json, README.md")
    print(f"sha256: {r.sha256}")
    if r.installed is not None:
        print(f"installed: {r.installed} (pretrained=True now loads it for {r.name})")
    print(f"manifest entry for {r.name!r} (after `moga-zoo publish`, set \"revision\" to the printed "
          f"commit and \"published\": true):")
    print(json.dumps({r.name: r.manifest_entry}, indent=2))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from huggingface_hub import errors as hf_errors

    from ..weights.errors import WeightsError
    from ..weights.publish import publish_folder

    try:
        r = publish_folder(args.folder, args.repo_id, private=args.private, revision=args.revision,
                           endpoint=args.endpoint)
    except WeightsError as e:
        raise CommandError(str(e)) from None
    except hf_errors.HfHubHTTPError as e:
        first = str(e).strip().splitlines()[0]
        raise CommandError(f"the hub refused the upload to {args.repo_id}: {first} (log in with "
                           f"`hf auth login` or set HF_TOKEN; check --repo-id)") from None
    print(f"published {r.repo_id} at commit {r.commit}")
    print(f"  {r.commit_url}")
    print("pin it in weights_manifest.json:")
    print(json.dumps({"hf_hub_id": r.repo_id, "revision": r.commit, "sha256": r.sha256, "size": r.size,
                      "published": True}, indent=2))
    return 0
