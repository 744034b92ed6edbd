"""``moga-zoo lut build|validate|show``: per-device latency lookup tables."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from moga_zoo.cli.options import positive_int
from moga_zoo.errors import UsageError
from moga_zoo.fileio import check_output_file, write_json_atomic
from moga_zoo.search_space import CHOICES

COMMANDS = {"lut": "build, validate or show latency lookup tables"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lut", help=COMMANDS["lut"])
    lut = p.add_subparsers(dest="lut_command", metavar="ACTION", required=True)

    b = lut.add_parser("build", help="measure a table for this machine (resumes a partial FILE)")
    b.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    b.add_argument("--runtime", default="torch", help="torch or onnxruntime (default torch)")
    b.add_argument("--threads", type=positive_int, default=1, help="CPU threads (default 1)")
    b.add_argument("--batch", type=positive_int, default=1, help="batch size (default 1)")
    b.add_argument("--resolution", type=int, default=224, help="input side, multiple of 32")
    b.add_argument("--warmup", type=int, default=20, help="untimed runs per block (default 20)")
    b.add_argument("--repeats", type=int, default=100, help="timed runs per block (default 100)")
    b.add_argument("--calibration-samples", type=int, default=10,
                   help="architectures run end to end to fit the correction (0: none; default 10)")
    b.add_argument("--e2e-repeats", type=int, default=30,
                   help="timed end-to-end runs per calibration architecture (default 30)")
    b.add_argument("--seed", type=int, default=0, help="seed for order and calibration (default 0)")
    b.add_argument("-o", "--output", required=True, type=Path, help="table file (.json)")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=_build)

    v = lut.add_parser("validate", help="compare a table with end-to-end runs on this machine")
    v.add_argument("table", help="table file or bundled name")
    v.add_argument("--samples", type=int, default=30, help="random architectures (default 30)")
    v.add_argument("--seed", type=int, default=1, help="seed of the random architectures")
    v.add_argument("--warmup", type=int, default=10, help="untimed runs per network (default 10)")
    v.add_argument("--repeats", type=int, default=30, help="timed runs per network (default 30)")
    v.add_argument("--plot", type=Path, help="write predicted-vs-measured plot here (.png)")
    v.add_argument("--report", type=Path, help="write the full report here (.json)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")
    v.set_defaults(func=_validate)

    s = lut.add_parser("show", help="list bundled tables, or print one table")
    s.add_argument("table", nargs="?", help="table file or bundled name (omit: list bundled)")
    s.add_argument("--arch", action="append", default=[], metavar="NAME|ARCH",
                   help="also predict these architectures (repeatable)")
    s.set_defaults(func=_show)

    i = lut.add_parser("index", help="rewrite the bundled tables' index.json with their sha256 "
                                     "(maintainers, after adding a table to the package)")
    i.set_defaults(func=_index)


def _build(args: argparse.Namespace) -> int:
    from search_repro.latency import build_table

    if args.output.suffix != ".json":
        raise UsageError(f"-o must name a .json file, got {args.output}")
    check_output_file(args.output, "-o/--output")
    table = build_table(args.output, device=args.device, runtime=args.runtime,
                        threads=args.threads, batch=args.batch, resolution=args.resolution,
                        warmup=args.warmup, repeats=args.repeats,
                        calibration_samples=args.calibration_samples,
                        e2e_repeats=args.e2e_repeats, seed=args.seed, progress=not args.quiet)
    print(f"wrote {args.output}: {table!r}")
    for name in ("moga_a", "moga_b", "moga_c"):
        print(f"  {name}: {table.predict_arch(name):.3f} ms")
    return 0


def _fmt_metrics(m: dict) -> str:
    return (f"MAPE {m['mape_pct']:.2f} %  Kendall tau {m['kendall_tau']:.3f}  "
            f"Pearson r {m['pearson_r']:.3f}  within ±10 % {m['within_10pct']:.0f} %")


def _validate(args: argparse.Namespace) -> int:
    from search_repro.latency import load_table, plot_validation, validate_table

    for opt, suffix in (("plot", ".png"), ("report", ".json")):
        out = getattr(args, opt)
        if out is not None and out.suffix != suffix:
            raise UsageError(f"--{opt} must name a {suffix} file, got {out}")
        if out is not None:
            check_output_file(out, f"--{opt}")
    table = load_table(args.table)
    report = validate_table(table, samples=args.samples, seed=args.seed, warmup=args.warmup,
                            repeats=args.repeats, progress=not args.quiet)
    print(f"{table!r}")
    for note in report["notes"]:
        print(f"note: {note}")
    print(f"{report['samples']} random architectures + MoGA-A/B/C, {args.repeats} runs each; "
          f"median run-to-run spread (IQR/median) {report['measured_spread_pct']:.1f} %")
    print(f"  raw block sum: {_fmt_metrics(report['raw'])}")
    if report["corrected"] is not None:
        print(f"  corrected:     {_fmt_metrics(report['corrected'])}")
    for row in report["architectures"][:3]:
        pred = row.get("corrected_ms", row["raw_ms"])
        print(f"  {row['name']}: measured {row['measured_ms']:.3f} ms, predicted {pred:.3f} ms")
    if args.report:
        write_json_atomic(args.report, report, indent=1)
        print(f"wrote {args.report}")
    if args.plot:
        plot_validation(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from search_repro.latency import bundled_tables, load_table
    from search_repro.latency.bundled import DEFAULT_TABLE

    if args.table is None:
        for name, path in bundled_tables().items():
            t = load_table(name)
            mark = "  (default)" if name == DEFAULT_TABLE else ""
            print(f"{name}{mark}: {t.device}; {t.runtime}; {t.resolution} px, batch {t.batch}")
        return 0
    t = load_table(args.table)
    d = t.data
    print(f"{t!r}\ncreated {d['created']}; {json.dumps(d['measurement'])}")
    print("fixed parts (median ms): " + ", ".join(
        f"{k} {v['median_ms']:.3f}" for k, v in d["fixed"].items()))
    print("layer " + " ".join(f"{str(c):>8}" for c in CHOICES))
    for i, row in enumerate(t.layer_ms, start=1):
        print(f"{i:>5} " + " ".join(f"{v:8.3f}" for v in row))
    if t.correction is not None:
        a, b = t.correction
        print(f"correction: measured ≈ {a:.4f} × block sum {b:+.4f} ms "
              f"(fitted on {len(d['correction']['calibration'])} end-to-end runs)")
    for arch in args.arch:
        print(f"{arch}: {t.predict_arch(arch):.3f} ms (raw sum {t.predict_arch(arch, False):.3f})")
    return 0


def _index(args: argparse.Namespace) -> int:
    from search_repro.latency.bundled import INDEX, reindex

    for name, entry in reindex().items():
        print(f"{name}: sha256 {entry['sha256']}")
    print(f"wrote {INDEX}")
    return 0
