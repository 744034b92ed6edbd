"""``moga-zoo lut build|validate|show|kit|kit-run|import``: per-device latency lookup tables, and
the kit that builds one on a phone."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from moga_zoo.cli.options import Range, positive_int
from moga_zoo.errors import UsageError
from moga_zoo.fileio import check_output_file, write_json_atomic
from moga_zoo.search_space import CHOICES

COMMANDS = {"lut": "build, validate or show latency lookup tables; phone kits"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lut", help=COMMANDS["lut"])
    lut = p.add_subparsers(dest="lut_command", metavar="ACTION", required=True)

    b = lut.add_parser("build", help="measure a table for this machine (resumes a partial FILE)")
    b.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    b.add_argument("--runtime", default="torch",
                   help="torch, onnxruntime, litert or executorch (default torch; the last two "
                        "need their extras and time batch 1 on --device cpu)")
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

    k = lut.add_parser("kit", help="write a phone kit: every model a table needs, a manifest and "
                                   "an adb script that times them (docs/mobile.md)")
    k.add_argument("--runtime", required=True, choices=("litert", "executorch"),
                   help="litert (.tflite, timed with benchmark_model on CPU and GPU) or "
                        "executorch (.pte XNNPACK, timed with executor_runner)")
    k.add_argument("-o", "--output", required=True, type=Path, help="kit folder (new or empty; "
                   "an unfinished kit with the same settings is resumed)")
    k.add_argument("--resolution", type=int, default=224, help="input side, multiple of 32")
    k.add_argument("--calibration-samples", type=int, default=10,
                   help="networks the end-to-end correction is fitted on (0: none; default 10)")
    k.add_argument("--samples", type=int, default=30,
                   help="random validation networks beside MoGA-A/B/C (default 30)")
    k.add_argument("--seed", type=int, default=0, help="seed of weights, order and calibration")
    k.add_argument("--validation-seed", type=Range(int, 0, 2**32 - 1), default=1,
                   help="seed of the random validation networks (default 1, as lut validate)")
    k.add_argument("--rounds", type=positive_int, default=5,
                   help="times every model is timed, interleaved (default 5)")
    k.add_argument("--warmup", type=int, default=10, help="untimed runs per timing (default 10)")
    k.add_argument("--runs", type=positive_int, default=50, help="timed runs per timing (default 50)")
    k.add_argument("--quiet", action="store_true", help="no progress bar")
    k.set_defaults(func=_kit)

    kr = lut.add_parser("kit-run", help="time a kit on this machine's CPU with the runtime's "
                                        "Python interpreter, writing logs as the phone tools do")
    kr.add_argument("kit", type=Path, help="kit folder")
    kr.add_argument("--threads", type=positive_int, default=1, help="CPU threads (default 1)")
    kr.add_argument("--quiet", action="store_true", help="no progress bar")
    kr.set_defaults(func=_kit_run)

    im = lut.add_parser("import", help="turn a timed kit's logs into a table and its validation "
                                       "report")
    im.add_argument("kit", type=Path, help="kit folder with logs")
    im.add_argument("-o", "--output", required=True, type=Path, help="table file (.json)")
    im.add_argument("--mode", default="cpu", help="cpu, or gpu for a LiteRT kit timed on the "
                                                  "phone's GPU (default cpu)")
    im.add_argument("--report", type=Path,
                    help="validation report (.json; default: TABLE.validation.json)")
    im.add_argument("--plot", type=Path, help="write predicted-vs-measured plot here (.png)")
    im.set_defaults(func=_import)

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


def _kit(args: argparse.Namespace) -> int:
    from moga_zoo.fileio import check_output_folder

    check_output_folder(args.output, "-o/--output")  # before the runtimes load (and warn)
    from search_repro.latency.kit import write_kit

    manifest = write_kit(args.output, args.runtime, resolution=args.resolution,
                         calibration_samples=args.calibration_samples, samples=args.samples,
                         seed=args.seed, validation_seed=args.validation_seed,
                         rounds=args.rounds, warmup=args.warmup, runs=args.runs,
                         progress=not args.quiet)
    print(f"wrote kit {manifest['kit_id']} to {args.output}: {len(manifest['models'])} "
          f"{args.runtime} {manifest['runtime']['version']} models, manifest.json, "
          f"run_on_phone.sh")
    print(f"next: {args.output}/run_on_phone.sh (phone) or moga-zoo lut kit-run {args.output} "
          f"(this machine), then moga-zoo lut import {args.output} -o TABLE.json")
    return 0


def _kit_run(args: argparse.Namespace) -> int:
    from search_repro.latency.kit import run_kit

    run_kit(args.kit, threads=args.threads, progress=not args.quiet)
    print(f"wrote logs to {args.kit / 'logs' / 'cpu'}; next: moga-zoo lut import {args.kit} "
          f"-o TABLE.json")
    return 0


def _import(args: argparse.Namespace) -> int:
    from search_repro.latency import plot_validation
    from search_repro.latency.kit import import_kit

    if args.output.suffix != ".json":
        raise UsageError(f"-o must name a .json file, got {args.output}")
    report_path = args.report or args.output.with_suffix(".validation.json")
    for opt, out, suffix in (("-o/--output", args.output, ".json"),
                             ("--report", report_path, ".json"), ("--plot", args.plot, ".png")):
        if out is not None and out.suffix != suffix:
            raise UsageError(f"{opt} must name a {suffix} file, got {out}")
        if out is not None:
            check_output_file(out, opt)
    table, report = import_kit(args.kit, args.output, mode=args.mode)
    write_json_atomic(report_path, report, indent=1)
    print(f"wrote {args.output}: {table!r}")
    print(f"{report['samples']} random architectures + MoGA-A/B/C from the kit's logs")
    print(f"  raw block sum: {_fmt_metrics(report['raw'])}")
    if report["corrected"] is not None:
        print(f"  corrected:     {_fmt_metrics(report['corrected'])}")
    for row in report["architectures"][:3]:
        pred = row.get("corrected_ms", row["raw_ms"])
        print(f"  {row['name']}: measured {row['measured_ms']:.3f} ms, predicted {pred:.3f} ms")
    print(f"wrote {report_path}")
    if args.plot:
        plot_validation(report, args.plot)
        print(f"wrote {args.plot}")
    return 0


def _index(args: argparse.Namespace) -> int:
    from search_repro.latency.bundled import INDEX, reindex

    for name, entry in reindex().items():
        print(f"{name}: sha256 {entry['sha256']}")
    print(f"wrote {INDEX}")
    return 0
