"""`cdreasoning data …` — build, merge, check and synthesise SPCD / M-SPCD training data.

    cdreasoning data build-score    --spcd-csv train.csv --out score_train.json --dedupe
    cdreasoning data build-describe --severities severities.csv --out depict_train.json --format train
    cdreasoning data mix            --inputs score_train.json depict_train.json --out train_mix.json
    cdreasoning data check          train_mix.json --image-folder SPCD/images
    cdreasoning data synth          --out data/synth --scenes 30 --seed 0

Each sub-command has `--help`. Bad input ends with one line naming the file and the record/line (exit code 2);
`check` exits 1 when it finds problems.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cdreasoning.data.errors import DataError
from cdreasoning.errors import report_errors


def _build_score(args: argparse.Namespace) -> int:
    from cdreasoning.constants import CD_LEVELS
    from cdreasoning.data.jsonio import dumps_json, write_text_atomic
    from cdreasoning.data.score_task import build_score_records, dedupe_pairs
    from cdreasoning.data.spcd import read_spcd_csv
    from cdreasoning.scale import level_from_delta_v

    pairs = read_spcd_csv(args.spcd_csv)
    removed = 0
    if args.dedupe:
        pairs, removed = dedupe_pairs(pairs)
    records = build_score_records(pairs, seed=args.seed)
    write_text_atomic(args.out, dumps_json([r.to_dict() for r in records]))
    levels = dict.fromkeys(CD_LEVELS, 0)
    for pair in pairs:
        levels[level_from_delta_v(pair.delta_v)] += 1
    print(
        f"{args.spcd_csv}: {len(pairs) + removed} rows"
        + (f", {removed} duplicate rows removed" if args.dedupe else "")
    )
    print(
        f"wrote {len(records)} score records to {args.out} (seed {args.seed}); levels: "
        + ", ".join(f"{k} {v}" for k, v in levels.items())
    )
    return 0


def _build_describe(args: argparse.Namespace) -> int:
    from cdreasoning.data.depict_task import build_describe_records, read_severity_table
    from cdreasoning.data.jsonio import dumps_json, write_text_atomic

    items = read_severity_table(args.severities)
    records = build_describe_records(items, seed=args.seed, fmt=args.format)
    write_text_atomic(args.out, dumps_json([r.to_dict() for r in records]))
    print(f"wrote {len(records)} depict records ({args.format} format) to {args.out} (seed {args.seed})")
    return 0


def _mix(args: argparse.Namespace) -> int:
    from cdreasoning.data.jsonio import dumps_json, write_text_atomic
    from cdreasoning.data.mix import mix_conversation_files

    result = mix_conversation_files(args.inputs, seed=args.seed)
    write_text_atomic(args.out, dumps_json([r.to_dict() for r in result.records]))
    for (label, count), path in zip(result.counts.items(), args.inputs):
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(result.kinds[label].items()))
        print(f"  {path}: {count} records as '{label}-…' ({kinds})")
    renamed = f", {result.renamed} ids suffixed to stay unique" if result.renamed else ""
    print(f"wrote {len(result.records)} shuffled records to {args.out} (seed {args.seed}{renamed})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from cdreasoning.data.check import check_dataset

    if args.no_images and args.image_folder is not None:
        print("note: --no-images given, --image-folder is ignored", file=sys.stderr)
    report = check_dataset(
        args.json,
        None if args.no_images else args.image_folder,
        check_images=not args.no_images,
        progress=not args.quiet,
        workers=args.workers,
    )
    print(report.format(list_problems=not args.summary_only))
    return 0 if report.ok else 1


def _synth(args: argparse.Namespace) -> int:
    from cdreasoning.data.synth import synthesize

    summary = synthesize(
        args.out,
        scenes=args.scenes,
        seed=args.seed,
        size=args.size,
        pairs_per_scene=args.pairs_per_scene,
        overwrite=args.overwrite,
        progress=not args.quiet,
    )
    print(summary.format())
    if summary.images_kept:
        print(f"  resumed: kept {summary.images_kept} images written by an interrupted run")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from cdreasoning.data.synth.generate import DEFAULT_PAIRS_PER_SCENE

    parser = argparse.ArgumentParser(
        prog="cdreasoning data",
        description="Build, merge, check and synthesise SPCD / M-SPCD data for training and evaluation.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Real SPCD data: build-score (CSV → score conversations), build-describe (severities → depict\n"
            "records), mix (one training file), check (images, placeholders, levels, ids).\n"
            "No data at hand: synth makes an SPCD-like set from photographs bundled with scikit-image,\n"
            "scikit-learn and matplotlib. Run `cdreasoning data <command> --help` for the options."
        ),
    )
    commands = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    p = commands.add_parser(
        "build-score",
        help="SPCD CSV → M-SPCD score-task conversations",
        description="Turn an SPCD pair list (rows image_a,image_b,ΔV) into M-SPCD score-task conversations: "
        "id = 12-digit running number, image = [image_a, image_b] in CSV order, a human turn "
        "'<|image|><|image|>\\n' + one of the 20 M-SPCD questions (seeded), the answer 'The color "
        "difference between these two images is {level}.' with the M-SPCD level of ΔV, gt_score = ΔV. "
        "Same CSV and seed → byte-identical output.",
    )
    p.add_argument(
        "--spcd-csv", required=True, type=Path, help="SPCD CSV (image_a,image_b,ΔV per row, no header)"
    )
    p.add_argument("--out", required=True, type=Path, help="output JSON file (list of conversation records)")
    p.add_argument("--seed", type=int, default=0, help="seed of the question draw (default: 0)")
    p.add_argument(
        "--dedupe",
        action="store_true",
        help="drop rows identical to an earlier row (SPCD's train split lists its 7,005 phone pairs "
        "twice: 28,025 rows → 21,020); prints how many were removed",
    )
    p.set_defaults(run=_build_score)

    p = commands.add_parser(
        "build-describe",
        help="per-attribute severities → depict-task records",
        description="Write depict-task records with generated natural descriptions from per-attribute "
        "severities. Input: a CSV with header image_a,image_b,white_balance,brightness_contrast,"
        "color_contrast,overall_brightness,overall_color,dark_details,bright_details (severities "
        'slight/moderate/severe), or a JSON list of {"image": [a, b], "severities": {...}}. '
        "Every description names each attribute once with its severity word in the same clause.",
    )
    p.add_argument(
        "--severities", required=True, type=Path, help="severities table (.csv or .json, see above)"
    )
    p.add_argument("--out", required=True, type=Path, help="output JSON file")
    p.add_argument("--seed", type=int, default=0, help="seed of the phrasing choices (default: 0)")
    p.add_argument(
        "--format",
        choices=("train", "test"),
        default="train",
        help="train: conversation records (id, image, conversations, severities); test: records like "
        "M-SPCD's depict_align_test.json (question_id, image, text, human_answer, severities) "
        "(default: train)",
    )
    p.set_defaults(run=_build_describe)

    p = commands.add_parser(
        "mix",
        help="merge conversation files into one shuffled training file",
        description="Merge score and depict conversation files into one shuffled training file. Every record "
        "is kept; ids are prefixed by the source file's stem ('score_train-000000000001'); the "
        "shuffle is seeded. Prints the count per source.",
    )
    p.add_argument(
        "--inputs",
        required=True,
        nargs="+",
        type=Path,
        metavar="JSON",
        help="conversation JSON files (score and/or depict, training format)",
    )
    p.add_argument("--out", required=True, type=Path, help="output JSON file")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffle (default: 0)")
    p.set_defaults(run=_mix)

    p = commands.add_parser(
        "check",
        help="check a conversation / depict JSON (images, placeholders, levels, ids)",
        description="Check every record of a conversation or depict-test JSON: structure, unique ids, image "
        "placeholder count = image count (<image> accepted and reported), known level words in score "
        "answers (any case), every image exists and decodes. Prints a summary and each problem with "
        "its record id; exits 1 when there are problems.",
    )
    p.add_argument("json", type=Path, help="the JSON file to check")
    p.add_argument(
        "--image-folder",
        type=Path,
        default=None,
        help="folder the records' image paths are relative to (required unless --no-images)",
    )
    p.add_argument("--no-images", action="store_true", help="skip the image existence / decoding checks")
    p.add_argument("--summary-only", action="store_true", help="print the counts, not every problem")
    p.add_argument("--workers", type=int, default=4, help="threads decoding images (default: 4)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_check)

    p = commands.add_parser(
        "synth",
        help="make an SPCD-like set from photographs bundled with installed packages",
        description="Write an SPCD-like data set that needs no download: scenes cut from the photographs "
        "bundled with scikit-image, scikit-learn and matplotlib; group 01 = phone captures (own look, own "
        "framing: not pixel-aligned), groups 02-07 = ISP-style edits of I*_01_01 (aligned); proxy "
        "ΔV on SPCD's scale and per-attribute severities as ground truth; SPCD CSVs, M-SPCD score "
        "and depict JSONs, a training mix and synth_meta.json. Deterministic for a seed; an "
        "existing identical set is reused, an interrupted one resumed.",
    )
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument(
        "--scenes", required=True, type=int, help="number of scenes (≥ 3; split 70/10/20 by scene)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of everything random (default: 0)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (default: 256, minimum 32)")
    p.add_argument(
        "--pairs-per-scene",
        type=int,
        default=DEFAULT_PAIRS_PER_SCENE,
        help=f"rated pairs per scene, about one third phone-vs-phone (default: "
        f"{DEFAULT_PAIRS_PER_SCENE}, like SPCD)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a different set in --out (removes only the names the generator writes)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_synth)
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "synth":
        from cdreasoning.data.synth.generate import MIN_SIZE

        if args.scenes < 3:
            parser.error(
                f"synth: --scenes must be ≥ 3 (train, val and test each need a scene), got {args.scenes}"
            )
        if args.size < MIN_SIZE:
            parser.error(f"synth: --size must be ≥ {MIN_SIZE}, got {args.size}")
        if args.pairs_per_scene < 2:
            parser.error(f"synth: --pairs-per-scene must be ≥ 2, got {args.pairs_per_scene}")
    try:
        return int(args.run(args))
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
