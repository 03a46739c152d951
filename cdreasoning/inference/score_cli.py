"""`cdreasoning score` — the colour difference of one pair (JSON) or of a pair list (CSV, resumable).

    cdreasoning score --model-path CKPT a.png b.png
    cdreasoning score --model-path CKPT --pairs pairs.csv --image-folder images/ --out scores.csv

A pair list is SPCD CSV (`image_a,image_b[,ΔV]`, no header), a CSV with an `image_a,image_b[,delta_v]` header,
or an M-SPCD JSON. The output CSV has one row per pair: `pair_index,image_a,image_b,human_delta_v,score,level,
delta_v,std,delta_v_low,delta_v_high,p_<level>…,error` (std: spread of the level distribution in grade units;
delta_v_low/high: the 80 % ΔV interval, see `cdreasoning.inference.uncertainty`). Rows are written as they come; rerunning the same command skips the pairs already
scored (and retries failed ones). A missing or unreadable image is reported in the `error` column and the run
goes on; the exit status is 1 if any pair failed.

Data-parallel over N processes or GPUs with any launcher (pairs sharded by rank, parts merged by rank 0 in input
order; see `cdreasoning.inference.sharding`):

    torchrun --nproc_per_node N -m cdreasoning score --model-path CKPT --pairs pairs.csv --out scores.csv
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
    result_provenance,
    run_over_pairs,
    workers,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cdreasoning score", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("images", nargs="*", metavar="IMAGE", help="two images to compare (prints JSON)")
    parser.add_argument("--pairs", help="pair list to score (CSV or M-SPCD JSON) instead of two images")
    add_image_folder_argument(parser, "folder the pair list's image names are relative to", default=None)
    parser.add_argument("--out", help="output CSV for --pairs (resumed if it exists)")
    add_overwrite_argument(parser)
    add_model_arguments(parser)
    add_batch_arguments(parser, default_batch=16)
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    from cdreasoning.data.pair_lists import read_pairs
    from cdreasoning.data.result_store import ResultLog

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pairs is None and len(args.images) != 2:
        parser.error("give two images, or --pairs LIST --out FILE")
    if args.pairs is not None and (args.images or not args.out):
        parser.error("--pairs needs --out and no positional images")
    from cdreasoning.inference.sharding import Shard, run_sharded

    shard = Shard.from_env()
    if shard.sharded:
        if args.pairs is None:
            parser.error("a multi-process launch needs --pairs LIST --out FILE")
        shard.setup()  # before loading: picks this rank's GPU
    scorer = load_scorer(args)
    if args.pairs is None:
        result = scorer.score(*args.images)
        print(
            json.dumps({"image_a": args.images[0], "image_b": args.images[1], **result.to_dict()}, indent=2)
        )
        return 0

    pairs = read_pairs(args.pairs)
    words = scorer.levels.words
    fields = [
        "human_delta_v",
        "score",
        "level",
        "delta_v",
        "std",
        "delta_v_low",
        "delta_v_high",
        *[f"p_{w}" for w in words],
    ]
    provenance = result_provenance(args, scorer, args.pairs, "score", question=scorer.prompt.question)

    def to_row(pair, result):
        row = {"human_delta_v": "" if pair.delta_v is None else pair.delta_v}
        if result is not None:
            row.update(
                score=result.score,
                level=result.level,
                delta_v=result.delta_v,
                std=result.std,
                delta_v_low=result.delta_v_low,
                delta_v_high=result.delta_v_high,
                **{f"p_{w}": result.probabilities[w] for w in words},
            )
        return row

    def results(todo):
        return scorer.iter_scores(
            image_pairs(todo), args.batch_size, workers(args, scorer), args.image_folder
        )

    store = {"provenance": provenance, "overwrite": args.overwrite}
    if shard.sharded:
        return run_sharded(shard, pairs, args.out, fields, results, to_row, "scoring", store)
    return run_over_pairs(pairs, ResultLog(args.out, pairs, fields, **store), results, to_row, "scoring")


if __name__ == "__main__":
    sys.exit(main())
