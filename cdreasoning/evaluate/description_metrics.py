"""How well generated colour-difference descriptions rate the seven attributes, and how close their words are.

    from cdreasoning.evaluate import description_metrics, write_description_report
    metrics = description_metrics(generated_texts, human_answers)          # references as texts (parsed)
    metrics = description_metrics(generated_texts, [{"white_balance": "slight", ...}, ...])   # or as dicts
    write_description_report(generated_texts, human_answers, "runs/describe", method_name="cd-reasoning")

Both sides are read with `parse_severities`. A *cell* is one (description, attribute) whose reference
severity is known; a cell is *rated* when the generated text gives that attribute a severity.

- accuracy: correct cells / all cells (an unrated cell counts as wrong), per attribute and pooled;
  accuracy_rated: correct / rated cells (how right the model is when it commits).
- macro_f1: per severity class c, precision = correct c / cells predicted c, recall = correct c / reference
  cells of c (unrated cells count as misses); F1 averaged over the classes that occur in the reference or the
  predictions (a class absent from both, e.g. "severe" in a small test set, is left out rather than scored 0).
  Per attribute and pooled; `mean_attribute_macro_f1` is the mean of the per-attribute values.
- mae: mean |predicted − reference| with slight = 0, moderate = 1, severe = 2, over rated cells.
- coverage: rated cells / cells. rated_fraction / mentioned_fraction: share of the seven attributes a
  generated text rates / names at all (averaged over descriptions, independent of the reference).
- exact_match: share of descriptions whose every reference attribute is rated correctly.
- confusion: 3×3 counts (rows reference, columns prediction, order slight/moderate/severe), pooled and per
  attribute; `unrated` counts, per reference class, the cells the model did not rate.
- text similarity to the human answers (when reference texts are available): corpus BLEU (sacrebleu, 0-100)
  and mean ROUGE-L F-measure (rouge-score with Porter stemming, 0-1).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cdreasoning.constants import ATTRIBUTE_LABELS, ATTRIBUTES, SEVERITIES
from cdreasoning.data.severity_parser import parse_severities, parse_severities_detailed

__all__ = [
    "DescriptionMetrics",
    "description_metrics",
    "write_description_report",
    "write_description_report_from_records",
]

SEVERITY_INDEX = {name: i for i, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class DescriptionMetrics:
    """The numbers of a description evaluation (see the module docstring for each definition).

    per_attribute / overall values are None where undefined (e.g. accuracy_rated with no rated cell).
    confusion[name]: 3×3 list, rows reference, columns prediction (SEVERITIES order); name = "pooled" or
    an attribute. unrated[name]: per reference class, cells without a predicted severity.
    text_similarity: {"bleu": ..., "rouge_l_f": ...} or {"absent": reason}.
    """

    n_descriptions: int
    per_attribute: dict[str, dict[str, Any]]
    overall: dict[str, Any]
    confusion: dict[str, list[list[int]]]
    unrated: dict[str, list[int]]
    text_similarity: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_reference_dict(ref: Mapping, index: int) -> dict[str, str]:
    out = {}
    for key, value in ref.items():
        if key not in ATTRIBUTES:
            raise ValueError(f"reference {index}: unknown attribute {key!r}; expected one of {ATTRIBUTES}")
        if value not in SEVERITIES:
            raise ValueError(f"reference {index}: severity {value!r} of {key!r} is not one of {SEVERITIES}")
        out[key] = value
    return out


def _resolve_references(
    references: Sequence[str | Mapping[str, str]],
    reference_texts: Sequence[str] | None,
    require_complete: bool,
    ids: Sequence[str] | None,
) -> tuple[list[dict[str, str]], list[str] | None]:
    severities: list[dict[str, str]] = []
    texts: list[str] | None = [] if reference_texts is None else list(reference_texts)
    for i, ref in enumerate(references):
        where = f"reference {i}" + (f" (id {ids[i]})" if ids is not None else "")
        if isinstance(ref, str):
            parsed = parse_severities(ref)
            if texts is not None and reference_texts is None:
                texts.append(ref)
        elif isinstance(ref, Mapping):
            parsed = _check_reference_dict(ref, i)
            if reference_texts is None:
                texts = None
        else:
            raise TypeError(
                f"{where}: expected a text or a {{attribute: severity}} dict, got {type(ref).__name__}"
            )
        if require_complete and set(parsed) != set(ATTRIBUTES):
            missing = [a for a in ATTRIBUTES if a not in parsed]
            raise ValueError(
                f"{where}: no severity for {', '.join(missing)}"
                + (f" in {ref!r}" if isinstance(ref, str) else "")
                + "; pass require_complete_references=False (eval describe: --allow-incomplete-references) to "
                "score only the attributes it rates"
            )
        severities.append(parsed)
    if texts is not None and len(texts) != len(references):
        raise ValueError(f"{len(texts)} reference texts for {len(references)} references")
    return severities, texts


def _f1_macro(confusion: np.ndarray, unrated: np.ndarray) -> float | None:
    predicted = confusion.sum(axis=0)
    reference = confusion.sum(axis=1) + unrated
    scores = []
    for c in range(len(SEVERITIES)):
        if predicted[c] == 0 and reference[c] == 0:
            continue
        tp = confusion[c, c]
        precision = tp / predicted[c] if predicted[c] else 0.0
        recall = tp / reference[c] if reference[c] else 0.0
        scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores)) if scores else None


def _cell_summary(confusion: np.ndarray, unrated: np.ndarray) -> dict[str, Any]:
    n_rated = int(confusion.sum())
    n_cells = n_rated + int(unrated.sum())
    correct = int(np.trace(confusion))
    errors = np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
    return {
        "n_cells": n_cells,
        "n_rated": n_rated,
        "accuracy": correct / n_cells if n_cells else None,
        "accuracy_rated": correct / n_rated if n_rated else None,
        "macro_f1": _f1_macro(confusion, unrated) if n_cells else None,
        "mae": float((confusion * errors).sum() / n_rated) if n_rated else None,
        "coverage": n_rated / n_cells if n_cells else None,
    }


def _text_similarity(predicted: Sequence[str], references: Sequence[str] | None) -> dict[str, Any]:
    if references is None:
        return {"absent": "no reference texts (references were given as severity dicts)"}
    try:
        import sacrebleu
        from rouge_score import rouge_scorer
    except ImportError as err:  # both are declared dependencies; say which one is missing
        return {"absent": f"text similarity needs sacrebleu and rouge-score ({err})"}
    bleu = sacrebleu.corpus_bleu(list(predicted), [list(references)]).score
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predicted, references)]
    return {"bleu": float(bleu), "rouge_l_f": float(np.mean(rouge))}


def description_metrics(
    predicted: Sequence[str],
    references: Sequence[str | Mapping[str, str]],
    *,
    reference_texts: Sequence[str] | None = None,
    require_complete_references: bool = True,
    ids: Sequence[str] | None = None,
) -> DescriptionMetrics:
    """Score generated descriptions against references.

    predicted: the generated texts, one per pair.
    references: per pair, either the human answer text (parsed with `parse_severities`, also used for
        BLEU / ROUGE-L) or a {attribute: severity} dict (then BLEU / ROUGE-L need `reference_texts`).
    require_complete_references: a reference that does not rate all seven attributes raises ValueError
        naming it (a human answer the parser cannot read completely is a data problem); with False, only the
        attributes it rates are scored.
    ids: optional record ids, used in error messages.
    """
    predicted = list(predicted)
    references = list(references)
    if len(predicted) != len(references):
        raise ValueError(f"{len(predicted)} generated texts but {len(references)} references")
    if not predicted:
        raise ValueError("no descriptions to evaluate")
    if ids is not None and len(ids) != len(predicted):
        raise ValueError(f"{len(ids)} ids for {len(predicted)} descriptions")
    for i, text in enumerate(predicted):
        if not isinstance(text, str):
            raise TypeError(f"generated text {i} is a {type(text).__name__}, not a string")
    ref_severities, ref_texts = _resolve_references(
        references, reference_texts, require_complete_references, ids
    )

    parses = [parse_severities_detailed(text) for text in predicted]
    confusion = {attr: np.zeros((3, 3), dtype=np.int64) for attr in ATTRIBUTES}
    unrated = {attr: np.zeros(3, dtype=np.int64) for attr in ATTRIBUTES}
    exact = 0
    for parse, ref in zip(parses, ref_severities):
        all_right = True
        for attr, ref_value in ref.items():
            r = SEVERITY_INDEX[ref_value]
            pred_value = parse.severities.get(attr)
            if pred_value is None:
                unrated[attr][r] += 1
                all_right = False
            else:
                confusion[attr][r, SEVERITY_INDEX[pred_value]] += 1
                all_right &= pred_value == ref_value
        exact += all_right
    pooled_confusion = sum(confusion.values())
    pooled_unrated = sum(unrated.values())

    per_attribute = {attr: _cell_summary(confusion[attr], unrated[attr]) for attr in ATTRIBUTES}
    overall = _cell_summary(pooled_confusion, pooled_unrated)
    attribute_f1 = [v["macro_f1"] for v in per_attribute.values() if v["macro_f1"] is not None]
    overall["mean_attribute_macro_f1"] = float(np.mean(attribute_f1)) if attribute_f1 else None
    overall["exact_match"] = exact / len(predicted)
    overall["rated_fraction"] = float(np.mean([len(p.severities) / len(ATTRIBUTES) for p in parses]))
    overall["mentioned_fraction"] = float(np.mean([len(p.mentioned) / len(ATTRIBUTES) for p in parses]))
    overall["conflicting_fraction"] = float(np.mean([len(p.conflicting) / len(ATTRIBUTES) for p in parses]))

    return DescriptionMetrics(
        n_descriptions=len(predicted),
        per_attribute=per_attribute,
        overall=overall,
        confusion={"pooled": pooled_confusion.tolist(), **{a: m.tolist() for a, m in confusion.items()}},
        unrated={"pooled": pooled_unrated.tolist(), **{a: u.tolist() for a, u in unrated.items()}},
        text_similarity=_text_similarity(predicted, ref_texts),
    )


def _fmt(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_description_table(metrics: DescriptionMetrics, method_name: str) -> str:
    """A plain-text table of the per-attribute and pooled numbers."""
    header = f"{'attribute':<22}{'cells':>6}{'rated':>6}{'acc':>8}{'acc|rated':>10}{'macro-F1':>9}{'MAE':>7}"
    lines = [
        f"description metrics — {method_name} ({metrics.n_descriptions} descriptions)",
        header,
        "-" * len(header),
    ]
    rows = [(ATTRIBUTE_LABELS[a], metrics.per_attribute[a]) for a in ATTRIBUTES] + [
        ("all (pooled)", metrics.overall)
    ]
    for label, m in rows:
        lines.append(
            f"{label:<22}{m['n_cells']:>6}{m['n_rated']:>6}{_fmt(m['accuracy']):>8}{_fmt(m['accuracy_rated']):>10}"
            f"{_fmt(m['macro_f1']):>9}{_fmt(m['mae']):>7}"
        )
    o = metrics.overall
    lines.append(
        f"mean per-attribute macro-F1 {_fmt(o['mean_attribute_macro_f1'])} · "
        f"exact match {_fmt(o['exact_match'])} · "
        f"rated {_fmt(o['rated_fraction'])} · mentioned {_fmt(o['mentioned_fraction'])} of the 7 attributes"
    )
    sim = metrics.text_similarity
    if "absent" in sim:
        lines.append(f"text similarity: absent ({sim['absent']})")
    else:
        lines.append(f"BLEU {sim['bleu']:.2f} · ROUGE-L F {sim['rouge_l_f']:.4f}")
    return "\n".join(lines)


def write_description_report(
    predicted: Sequence[str],
    references: Sequence[str | Mapping[str, str]],
    out_dir: str | Path,
    *,
    method_name: str,
    ids: Sequence[str] | None = None,
    images: Sequence[Sequence[str]] | None = None,
    reference_texts: Sequence[str] | None = None,
    require_complete_references: bool = True,
    config: Mapping[str, Any] | None = None,
    echo: bool = True,
) -> DescriptionMetrics:
    """Evaluate and write the report into `out_dir`:

    - metrics.json: {"kind": "description_report", "method", "config", "metrics": DescriptionMetrics}
    - descriptions.jsonl: one line per description: id, images, generated text, reference text, the parsed
      predicted / reference severities (nothing is lost; errors can be inspected case by case)
    - confusion.png: the pooled and per-attribute confusion heatmaps
    - the table (`format_description_table`) is printed when `echo`.

    `ids` and `images` (pairs of image names) are optional per-description annotations for the JSONL.
    """
    metrics = description_metrics(
        predicted,
        references,
        reference_texts=reference_texts,
        require_complete_references=require_complete_references,
        ids=ids,
    )
    n = len(predicted)
    for name, seq in (("ids", ids), ("images", images), ("reference_texts", reference_texts)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"{len(seq)} {name} for {n} descriptions")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    report = {
        "kind": "description_report",
        "method": method_name,
        "config": dict(config or {}),
        "metrics": metrics.to_dict(),
    }
    (out_dir / "metrics.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    with (out_dir / "descriptions.jsonl").open("w", encoding="utf-8") as handle:
        for i, (text, ref) in enumerate(zip(predicted, references)):
            ref_text = (
                reference_texts[i] if reference_texts is not None else (ref if isinstance(ref, str) else None)
            )
            ref_sev = parse_severities(ref) if isinstance(ref, str) else dict(ref)
            record = {
                "id": ids[i] if ids is not None else str(i),
                "images": list(images[i]) if images is not None else None,
                "generated": text,
                "reference": ref_text,
                "predicted_severities": parse_severities(text),
                "reference_severities": ref_sev,
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    from cdreasoning.evaluate.plots import save_confusion_heatmaps

    def panel(name: str, key: str) -> tuple[str, np.ndarray]:
        return f"{name} ({sum(metrics.unrated[key])} unrated)", np.asarray(metrics.confusion[key])

    matrices = dict([panel("all attributes", "pooled")] + [panel(ATTRIBUTE_LABELS[a], a) for a in ATTRIBUTES])
    save_confusion_heatmaps(
        matrices,
        SEVERITIES,
        out_dir / "confusion.png",
        f"{method_name}: severity confusion (rows reference, columns predicted; unrated cells not drawn)",
    )
    if echo:
        print(format_description_table(metrics, method_name))
        print(f"report written to {out_dir}")
    return metrics


def check_references(records: Sequence[Any], require_complete: bool = True) -> None:
    """Raise ValueError, as the report would after generation, when a record's human answer cannot be used as
    ground truth (no answer; an attribute without a readable severity while `require_complete`). Cheap: run it
    before generating anything."""
    refs = [_reference_of(record, i) for i, record in enumerate(records)]
    _resolve_references([r[2] for r in refs], None, require_complete, [r[0] for r in refs])


def _field(record: Any, names: Sequence[str]) -> Any:
    for name in names:
        value = record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)
        if value is not None:
            return value
    return None


def _reference_of(record: Any, index: int) -> tuple[str, list[str] | None, str]:
    """(id, [image_a, image_b] or None, human answer) of an M-SPCD depict record (dict or object)."""
    record_id = _field(record, ("question_id", "id", "key"))
    record_id = str(index) if record_id is None else str(record_id)
    images = _field(record, ("image", "images"))
    if images is None and _field(record, ("image_a",)) is not None:
        images = [_field(record, ("image_a",)), _field(record, ("image_b",))]
    answer = _field(record, ("human_answer", "reference", "answer"))
    if answer is None:
        turns = _field(record, ("conversations",)) or []
        replies = [
            t.get("value") for t in turns if isinstance(t, Mapping) and t.get("from") in ("gpt", "assistant")
        ]
        answer = replies[-1] if replies else None
    if not isinstance(answer, str):
        raise ValueError(  # noqa: TRY004 - a record without its answer is bad data, not a wrong type
            f"record {index} (id {record_id}): no human answer (looked for human_answer, reference, answer "
            "and the last gpt turn of conversations)"
        )
    return record_id, None if images is None else [str(i) for i in images], answer


def write_description_report_from_records(
    pairs: Sequence[tuple[Any, str]],
    out_dir: str | Path,
    *,
    method_name: str,
    config: Mapping[str, Any] | None = None,
    require_complete_references: bool = True,
    echo: bool = True,
) -> DescriptionMetrics:
    """`write_description_report` for (M-SPCD depict record, generated text) pairs.

    A record is a dict (as in depict_align_test.json) or an object with attributes: the reference is its
    `human_answer` (or `reference` / `answer` / the last gpt turn of `conversations`), the id its
    `question_id` (or `id` / `key`), the images its `image` / `images` (or `image_a` + `image_b`).
    """
    pairs = list(pairs)
    refs = [_reference_of(record, i) for i, (record, _) in enumerate(pairs)]
    images = [r[1] for r in refs]
    return write_description_report(
        [text for _, text in pairs],
        [r[2] for r in refs],
        out_dir,
        method_name=method_name,
        ids=[r[0] for r in refs],
        images=None if any(i is None for i in images) else images,
        require_complete_references=require_complete_references,
        config=config,
        echo=echo,
    )
