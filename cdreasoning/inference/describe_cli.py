"""`cdreasoning describe` — describe the colour difference of one pair (JSON) or a pair list (JSONL, resumable).

    cdreasoning describe --model-path CKPT a.png b.png
    cdreasoning describe --model-path CKPT --pairs depict_test.json --image-folder images/ --out descriptions.jsonl

Each output line: `pair_index, image_a, image_b, record_id, text, severities, error`, where `severities` maps
the seven attributes (white_balance, brightness_contrast, color_contrast, overall_brightness, overall_color,
dark_details, bright_details) to slight / moderate / severe as parsed from the text. Greedy decoding by
default (`--temperature 0`); rerunning resumes; failed pairs are reported and make the exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys

from cdreasoning.cli_support import add_image_folder_argument
from cdreasoning.errors import report_errors
from cdreasoning.inference.cli_common import (
    add_batch_arguments,
    add_model_arguments,
    add_overwrite_argument,
    image_pairs,
    load_scorer,
    max_new_tokens,
    reject_score_question,
    result_provenance,
    run_over_pairs,
    workers,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning describe", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="two images to compare (prints JSON)")
    parser.add_argument("--pairs", help="pair list (CSV or M-SPCD JSON) instead of two images")
    add_image_folder_argument(parser, "folder the pair list's image names are relative to", default=None)
    parser.add_argument("--out", help="output JSONL for --pairs (resumed if it exists)")
    add_overwrite_argument(parser)
    parser.add_argument(
        "--describe-question",
        default=None,
        help="the question asked (default: the M-SPCD depict question over the seven attributes; with "
        "--original-prompt, the fixed question of cd_description.py)",
    )
    generation = parser.add_argument_group("generation")
    generation.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="longest description in tokens (default 256; 1024 with --original-prompt, as cd_description.py)",
    )
    generation.add_argument(
        "--temperature", type=float, default=0.0, help="0 = greedy (default); > 0 samples"
    )
    generation.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass when sampling")
    generation.add_argument("--seed", type=int, default=None, help="random seed when sampling")
    add_model_arguments(parser, describe=True)
    add_batch_arguments(parser, default_batch=8)
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    from dataclasses import replace

    from cdreasoning.data.pair_lists import read_pairs
    from cdreasoning.data.result_store import ResultLog

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pairs is None and len(args.images) != 2:
        parser.error("give two images, or --pairs LIST --out FILE")
    if args.pairs is not None and (args.images or not args.out):
        parser.error("--pairs needs --out and no positional images")
    reject_score_question(args)
    scorer = load_scorer(args)
    if args.describe_question is not None and args.describe_question != scorer.prompt.describe_question:
        scorer = type(scorer)(
            scorer.model,
            scorer.tokenizer,
            scorer.image_processor,
            replace(scorer.prompt, describe_question=args.describe_question),
            scorer.levels,
        )
    generation = dict(
        max_new_tokens=max_new_tokens(args), temperature=args.temperature, top_p=args.top_p, seed=args.seed
    )
    if args.pairs is None:
        description = scorer.describe(*args.images, **generation)
        print(
            json.dumps(
                {"image_a": args.images[0], "image_b": args.images[1], **description.to_dict()}, indent=2
            )
        )
        return 0

    pairs = read_pairs(args.pairs)
    provenance = result_provenance(
        args, scorer, args.pairs, "describe", question=scorer.prompt.describe_question, generation=generation
    )
    log = ResultLog(args.out, pairs, provenance=provenance, overwrite=args.overwrite)

    def to_row(pair, description):
        row = {"record_id": pair.record_id}
        if description is not None:
            row.update(text=description.text, severities=description.severities)
        return row

    def results(todo):
        return scorer.iter_descriptions(
            image_pairs(todo), args.batch_size, workers(args, scorer), args.image_folder, **generation
        )

    return run_over_pairs(pairs, log, results, to_row, "describing")


if __name__ == "__main__":
    sys.exit(main())
