"""Evaluate a model's colour-difference descriptions against human ones (M-SPCD depict task).

    python cdreasoning/evaluate/cd_description.py --model-path cdreasoning-checkpoint --device cuda:0
    cdreasoning eval describe --model-path CKPT --data depict_align_test.json --image-folder images/ --out DIR

For every record of `--data` (M-SPCD depict test format: `question_id`, `image: [a, b]`, `text` = the question,
`human_answer`) the model describes the pair (greedy by default), asked the record's own question unless
`--describe-question` is given; `--original-prompt` asks the fixed question of CD-Reasoning's cd_description.py
with its exact prompt and image preprocessing (centre crop), as the paper's descriptions were made. The seven attribute severities are parsed from the generated and the human texts and
compared: per-attribute accuracy, macro-F1, mean absolute severity error, a confusion matrix (PNG), the fraction
of attributes mentioned, and BLEU / ROUGE-L against the human answers. Outputs in `--out`: `generations.jsonl`
(written as it goes; a rerun resumes), `metrics.json`, `descriptions.jsonl`, `confusion.png`, the printed table.

`--scores SCORES.csv` (from `eval score` or `cdreasoning score` on the same pairs) adds explanation–score
agreement (`cdreasoning.evaluate.agreement`: the rule is in its docstring and docs/training.md): `agreement` in
metrics.json, a `contradiction` flag per line of descriptions.jsonl and `contradictions.csv`.

Default data layout (see playground/README.md): `playground/data/m-spcd/depict_task/depict_align_test.json` with
the images in `playground/data/spcd/images/`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from cdreasoning.cli_support import add_image_folder_argument
from cdreasoning.errors import report_errors

DEFAULT_DATA = "playground/data/m-spcd/depict_task/depict_align_test.json"
DEFAULT_IMAGES = "playground/data/spcd/images"


def build_parser() -> argparse.ArgumentParser:
    from cdreasoning.inference.cli_common import (
        add_batch_arguments,
        add_model_arguments,
        add_overwrite_argument,
    )

    parser = argparse.ArgumentParser(
        prog="cdreasoning eval describe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--pairs",
        "--data",
        dest="data",
        default=DEFAULT_DATA,
        help=f"depict test JSON (default {DEFAULT_DATA})",
    )
    add_image_folder_argument(parser, f"image folder (default {DEFAULT_IMAGES})", default=DEFAULT_IMAGES)
    parser.add_argument(
        "--out", default=None, help="result folder (default runs/eval/<model folder name>/describe)"
    )
    parser.add_argument(
        "--name", default=None, help="method name in the report (default: the model folder name)"
    )
    add_overwrite_argument(parser)
    parser.add_argument(
        "--describe-question",
        default=None,
        help="ask this instead of each record's own question (its `text`)",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="longest description in tokens (default 256; 1024 with --original-prompt, as cd_description.py)",
    )
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); > 0 samples")
    parser.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass when sampling")
    parser.add_argument("--seed", type=int, default=None, help="random seed when sampling")
    parser.add_argument(
        "--allow-incomplete-references",
        action="store_true",
        help="score only the attributes a human answer rates (otherwise a human answer without a readable "
        "severity for each of the seven attributes stops the run before anything is generated)",
    )
    parser.add_argument(
        "--allow-failures",
        action="store_true",
        help="report on the pairs that were described even if some images could not be read",
    )
    parser.add_argument(
        "--scores",
        default=None,
        help="scores CSV of the same pairs (eval score's scores.csv): report explanation–score agreement",
    )
    add_model_arguments(parser, describe=True)
    add_batch_arguments(parser, default_batch=8)
    return parser


@report_errors
def main(argv: list[str] | None = None) -> int:
    from cdreasoning.data import read_depict_tests
    from cdreasoning.data.pair_lists import PairSpec
    from cdreasoning.data.result_store import ResultLog
    from cdreasoning.errors import DataError, PartialFailure
    from cdreasoning.evaluate.description_metrics import (
        check_references,
        write_description_report_from_records,
    )
    from cdreasoning.inference.cli_common import (
        check_default_data,
        load_scorer,
        max_new_tokens,
        reject_score_question,
        result_provenance,
        run_over_pairs,
        workers,
    )

    args = build_parser().parse_args(argv)
    reject_score_question(args)
    name = args.name or Path(args.model_path.rstrip("/")).name
    out = Path(args.out or f"runs/eval/{name}/describe")
    check_default_data(args.data, DEFAULT_DATA)
    records = read_depict_tests(args.data)
    for record in records:
        if len(record.images) != 2:
            raise DataError(
                f"{record.source}: record {record.question_id} has {len(record.images)} images, not 2"
            )
    try:  # the ground truth is checked before anything is generated
        check_references(records, require_complete=not args.allow_incomplete_references)
    except ValueError as error:
        raise DataError(
            f"{args.data}: {error}",
            hint=f"`cdreasoning data check {args.data} --no-images` lists every such record; "
            "--allow-incomplete-references scores only the attributes each answer rates",
        ) from None
    pairs = [
        PairSpec(i, r.images[0], r.images[1], None, str(r.question_id), f"{args.data}#{i}")
        for i, r in enumerate(records)
    ]
    scorer = load_scorer(args)
    generation = dict(
        max_new_tokens=max_new_tokens(args), temperature=args.temperature, top_p=args.top_p, seed=args.seed
    )
    log = ResultLog(
        out / "generations.jsonl",
        pairs,
        provenance=result_provenance(
            args, scorer, args.data, "describe", question=args.describe_question, generation=generation
        ),
        overwrite=args.overwrite,
    )

    # Pairs asked the same question share prompts and batches; one scorer per distinct question.
    # --original-prompt asks every pair cd_description.py's fixed question, as the original did.
    fixed = scorer.prompt.describe_question if scorer.prompt.original else args.describe_question
    questions = [fixed or r.text for r in records]
    scorers = {
        q: type(scorer)(
            scorer.model,
            scorer.tokenizer,
            scorer.image_processor,
            replace(scorer.prompt, describe_question=q),
            scorer.levels,
        )
        for q in set(questions)
    }

    def results(todo):
        by_question: dict[str, list[int]] = {}
        for position, pair in enumerate(todo):
            by_question.setdefault(questions[pair.index], []).append(position)
        for question, positions in by_question.items():
            chunk = [(todo[p].image_a, todo[p].image_b) for p in positions]
            for local, description, error in scorers[question].iter_descriptions(
                chunk, args.batch_size, workers(args, scorer), args.image_folder, **generation
            ):
                yield positions[local], description, error

    def to_row(pair, description):
        row = {"record_id": pair.record_id, "question": questions[pair.index]}
        if description is not None:
            row.update(text=description.text, severities=description.severities)
        return row

    status = run_over_pairs(pairs, log, results, to_row, "describing")
    if status and not args.allow_failures:
        raise PartialFailure(
            "not reporting metrics: some pairs failed (listed above)",
            hint="fix or remove the failed pairs and rerun (done pairs are kept), or pass --allow-failures",
        )
    done = [
        (records[p.index], log.rows[p.index]["text"]) for p in pairs if not log.rows[p.index].get("error")
    ]
    config = {
        "model_path": str(args.model_path),
        "data": str(args.data),
        "prompt": "original" if scorer.prompt.original else "training",
        "conv_template": scorer.prompt.conv_template,
        **generation,
        "failed_pairs": len(pairs) - len(done),
    }
    write_description_report_from_records(
        done,
        out,
        method_name=name,
        config=config,
        require_complete_references=not args.allow_incomplete_references,
    )
    if args.scores:
        from cdreasoning.evaluate.agreement import annotate_description_report, format_agreement

        print(format_agreement(annotate_description_report(out, args.scores)))
    print(f"report: {out}/metrics.json, descriptions.jsonl, confusion.png", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
