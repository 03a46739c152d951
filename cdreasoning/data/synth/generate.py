"""Generate the synthetic SPCD-like set (`cdreasoning data synth`, `cdreasoning.data.synthesize`).

    from cdreasoning.data import synthesize
    summary = synthesize("data/synth", scenes=30, seed=0, size=256, pairs_per_scene=30)

Per scene (a seeded crop of a bundled photograph, see `sources`):

* group 01 — "phone captures": P phones, each with its own mild look (`looks.phone_look`) and, except the
  reference `I{scene}_01_01`, its own framing (`geometry.random_framing`: shift, rotation, zoom), so pairs of
  two phone captures are *not* pixel-aligned;
* groups 02-07 — edits of `I{scene}_01_01` (`looks.edit_look`: white balance, tone, saturation, colour
  profile, shadows/highlights, filter), same framing as the reference, so pixel-aligned.

Pairs: about one third phone-vs-phone (not aligned), the rest among the reference and its edits, drawn per
scene. Ground truth of a pair: the proxy ΔV (`proxy`, computed on the two renders *before* framing) and the
severity of each attribute from the difference of the two looks (`isp.severities_from_magnitudes`).
Scenes are split 70/10/20 into train/val/test (no scene in two splits). Outputs (see `docs/data.md`):

    images/I0001_01_01.png …                 train.csv val.csv test.csv test_aligned.csv test_notaligned.csv
    score_task/{train,val,test,test_aligned,test_notaligned}_data.json           (M-SPCD score schema)
    depict_task/depict_train.json (conversations) depict_val.json depict_test.json (test format)
    severities/{train,val,test}.csv          (build-describe input; re-running it reproduces depict_*.json)
    train_mix.json                            (score + depict train, shuffled)
    looks.json                                (every image's look and framing)
    synth_meta.json                           (parameters, counts, ΔV formula and statistics; written last)

Same arguments → byte-identical CSV / JSON files and identical images. An existing complete set with the same
parameters is reused; an interrupted run with the same parameters resumes (images already written are kept,
every image is written atomically); anything else in the folder is an error unless `overwrite=True`.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cdreasoning.colour import srgb_to_linear
from cdreasoning.data.depict_task import SeverityItem, build_describe_records
from cdreasoning.data.jsonio import (
    dumps_json,
    dumps_records,
    write_bytes_atomic,
    write_json,
    write_text_atomic,
)
from cdreasoning.data.mix import mix_records
from cdreasoning.data.score_task import build_score_records
from cdreasoning.data.seeding import shuffle, text_rng
from cdreasoning.data.spcd import SpcdPair
from cdreasoning.data.spcd_names import is_pixel_aligned
from cdreasoning.data.synth.geometry import Framing, canvas_size, frame, random_framing
from cdreasoning.data.synth.isp import (
    SEVERITY_THRESHOLDS,
    IspParams,
    attribute_magnitudes,
    render_linear,
    severities_from_magnitudes,
)
from cdreasoning.data.synth.looks import EDIT_GROUPS, clamp_look, edit_look, phone_look
from cdreasoning.data.synth.proxy import (
    PROXY_FORMULA,
    PROXY_VERSION,
    ProxyView,
    delta_v_from_distance,
    observed_delta_v,
    proxy_terms,
    viewing_image,
)
from cdreasoning.data.synth.sources import SOURCES, make_scene
from cdreasoning.errors import DataError

GENERATOR_VERSION = "synth-1"
SPLITS = ("train", "val", "test")
META_NAME = "synth_meta.json"
PROGRESS_NAME = ".synth_in_progress.json"
# Everything this generator writes (and the only files `overwrite` removes).
OUTPUT_FILES = (
    "train.csv",
    "val.csv",
    "test.csv",
    "test_aligned.csv",
    "test_notaligned.csv",
    "train_mix.json",
    "looks.json",
    META_NAME,
    PROGRESS_NAME,
)
OUTPUT_FOLDERS = {
    "images": re.compile(r"^I\d{4,}_\d{2}_\d{2}\.png$"),
    "score_task": re.compile(r"^(train|val|test|test_aligned|test_notaligned)_data\.json$"),
    "depict_task": re.compile(r"^depict_(train|val|test)\.json$"),
    "severities": re.compile(r"^(train|val|test)\.csv$"),
}
_TEMP_FILE = re.compile(r"^\..+\.tmp$")  # the temporaries of jsonio's atomic writes
DEFAULT_PAIRS_PER_SCENE = 30
MIN_SIZE = 32


@dataclass(frozen=True)
class SceneLayout:
    """How many images and pairs one scene has."""

    phones: int  # group 01 images
    edits_per_group: int  # images in each of groups 02..07
    not_aligned: int  # phone-vs-phone pairs
    aligned: int  # pairs among the reference and its edits


def scene_layout(pairs_per_scene: int) -> SceneLayout:
    """≈ 1/3 phone pairs (SPCD: 1,995 of 5,975), the fewest phones that give them, and enough edits that the
    aligned pairs are drawn from at least twice as many candidates."""
    if pairs_per_scene < 2:
        raise ValueError(
            f"pairs_per_scene must be ≥ 2 (one aligned and one not-aligned pair), got {pairs_per_scene}"
        )
    not_aligned = max(1, int(pairs_per_scene / 3 + 0.5))
    aligned = pairs_per_scene - not_aligned
    phones = 2
    while phones * (phones - 1) // 2 < not_aligned:
        phones += 1
    per_group = 1
    while math.comb(6 * per_group + 1, 2) < 2 * aligned:
        per_group += 1
    return SceneLayout(phones, per_group, not_aligned, aligned)


def split_scenes(scenes: int, seed: int) -> dict[str, list[int]]:
    """Scene numbers (1-based) of each split, ≈ 70/10/20, every split non-empty; needs scenes ≥ 3."""
    if scenes < 3:
        raise ValueError(f"scenes must be ≥ 3 so that train, val and test each get a scene, got {scenes}")
    n_test = max(1, int(0.2 * scenes + 0.5))
    n_val = max(1, int(0.1 * scenes + 0.5))
    order = list(range(1, scenes + 1))
    shuffle(text_rng(seed, "split"), order)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return {"train": sorted(train), "val": sorted(val), "test": sorted(test)}


def image_name(scene: int, group: int, index: int) -> str:
    return f"I{scene:04d}_{group:02d}_{index:02d}.png"


@dataclass
class SynthPair:
    """One rated pair of the synthetic set: image names, the proxy ΔV (with and without observer noise) and
    the per-attribute severities."""

    image_a: str
    image_b: str
    delta_v: float  # proxy ΔV with observer noise (the "human" rating)
    delta_v_clean: float  # without the noise
    severities: dict[str, str]

    @property
    def aligned(self) -> bool:
        return is_pixel_aligned(self.image_a, self.image_b)


@dataclass
class SynthSummary:
    """What `synthesize` wrote (or found already complete): sizes, pair counts per split, ΔV statistics, time."""

    out_dir: str
    seed: int
    scenes: int
    size: int
    pairs_per_scene: int
    images: int
    pairs: dict[str, int]  # split (and test_aligned / test_notaligned) → pairs
    delta_v: dict[str, float]  # min / max / mean / median over all pairs
    reused: bool = False  # True: a complete set was already there, nothing generated
    images_kept: int = 0  # images of an interrupted run that were kept
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)

    def format(self) -> str:
        state = "reused existing set" if self.reused else f"generated in {self.seconds:.1f} s"
        pairs = ", ".join(f"{k} {v}" for k, v in self.pairs.items())
        dv = self.delta_v
        return (
            f"synthetic SPCD-like set in {self.out_dir} ({state})\n"
            f"  {self.scenes} scenes, {self.images} images of {self.size} px, seed {self.seed}\n"
            f"  pairs: {pairs}\n"
            f"  ΔV proxy: min {dv['min']:.2f}, median {dv['median']:.2f}, mean {dv['mean']:.2f}, "
            f"max {dv['max']:.2f}"
        )


def _params(seed: int, scenes: int, size: int, pairs_per_scene: int) -> dict[str, Any]:
    return {
        "generator": GENERATOR_VERSION,
        "proxy": PROXY_VERSION,
        "seed": int(seed),
        "scenes": int(scenes),
        "size": int(size),
        "pairs_per_scene": int(pairs_per_scene),
    }


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def _scene(
    scene: int, seed: int, size: int, layout: SceneLayout, source: str, image_dir: Path
) -> tuple[list[SynthPair], dict[str, Any], int]:
    """Render, frame and write one scene's images; draw and rate its pairs.

    Returns the pairs, the looks / framings of its images (for looks.json) and how many images already
    existed.
    """
    rng = text_rng(seed, "scene", scene)
    photo = srgb_to_linear(make_scene(source, rng, canvas_size(size)))  # linearised once per scene
    looks: dict[str, IspParams] = {}
    framings: dict[str, Framing] = {}
    for phone in range(1, layout.phones + 1):
        name = image_name(scene, 1, phone)
        looks[name] = phone_look(rng)
        framings[name] = Framing() if phone == 1 else random_framing(rng, size)
    reference = looks[image_name(scene, 1, 1)]
    for group in EDIT_GROUPS:
        for index in range(1, layout.edits_per_group + 1):
            name = image_name(scene, group, index)
            looks[name] = clamp_look(reference + edit_look(group, rng))
            framings[name] = Framing()
    views: dict[str, ProxyView] = {}
    kept = 0
    for name, look in looks.items():
        canvas = render_linear(photo, look)
        # The reference-frame view (quantised like the written files) is what the proxy compares.
        views[name] = viewing_image(_to_uint8(frame(canvas, Framing(), size)).astype(np.float32) / 255.0)
        path = image_dir / name
        if path.is_file():
            kept += 1
        else:
            write_bytes_atomic(path, _png_bytes(_to_uint8(frame(canvas, framings[name], size))))
    phones = [image_name(scene, 1, p) for p in range(1, layout.phones + 1)]
    aligned_pool = [phones[0]] + [n for n in looks if not n.startswith(f"I{scene:04d}_01_")]
    candidates = []
    for pool, count in ((phones, layout.not_aligned), (aligned_pool, layout.aligned)):
        combos = list(itertools.combinations(sorted(pool), 2))
        shuffle(rng, combos)
        candidates += combos[:count]
    pairs = []
    for name_a, name_b in candidates:
        clean = delta_v_from_distance(proxy_terms(views[name_a], views[name_b])["D"])
        z = text_rng(seed, "observer", name_a, name_b).gauss(0.0, 1.0)
        noisy = observed_delta_v(clean, z)
        severities = severities_from_magnitudes(attribute_magnitudes(looks[name_a] - looks[name_b]))
        pairs.append(SynthPair(name_a, name_b, round(noisy, 9), round(clean, 9), severities))
    record = {
        name: {"source": source, "look": looks[name].as_dict(), "framing": framings[name].as_dict()}
        for name in looks
    }
    return pairs, record, kept


def _csv_text(pairs: list[SynthPair]) -> str:
    return "".join(f"{p.image_a},{p.image_b},{p.delta_v!r}\n" for p in pairs)


def _severity_csv_text(pairs: list[SynthPair]) -> str:
    from cdreasoning.data.depict_task import CSV_COLUMNS

    lines = [",".join(CSV_COLUMNS)]
    lines += [",".join([p.image_a, p.image_b, *(p.severities[a] for a in CSV_COLUMNS[2:])]) for p in pairs]
    return "\n".join(lines) + "\n"


def _spcd_pairs(pairs: list[SynthPair]) -> list[SpcdPair]:
    return [SpcdPair(p.image_a, p.image_b, p.delta_v, i + 1) for i, p in enumerate(pairs)]


def _remove_outputs(out: Path) -> None:
    """Delete what the generator writes — its file names, SPCD-named PNGs and its temporary files — and
    nothing else (a foreign file in the folder survives `overwrite`)."""
    for name in OUTPUT_FILES:
        (out / name).unlink(missing_ok=True)
    for folder, pattern in OUTPUT_FOLDERS.items():
        directory = out / folder
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.is_file() and (pattern.match(path.name) or _TEMP_FILE.match(path.name)):
                path.unlink()
        if not any(directory.iterdir()):
            directory.rmdir()
    for path in out.iterdir():
        if path.is_file() and _TEMP_FILE.match(path.name):
            path.unlink()


def _check_folder(out: Path, params: dict[str, Any], overwrite: bool) -> str:
    """'reuse', 'resume' or 'fresh' — or raise DataError when the folder holds something else."""
    meta_path, progress_path = out / META_NAME, out / PROGRESS_NAME
    if not out.exists() or not any(out.iterdir()):
        return "fresh"
    if overwrite:
        _remove_outputs(out)
        return "fresh"
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise DataError(
                f"{meta_path}: unreadable ({error}); pass overwrite (--overwrite) to regenerate"
            ) from None
        found = meta.get("parameters")
        if found != params:
            raise DataError(
                f"{out} already holds a synthetic set made with other parameters ({found}); asked for "
                f"{params}. Choose another folder or pass --overwrite to replace it"
            )
        missing = [name for name in meta.get("files", []) if not (out / name).is_file()]
        if missing:
            raise DataError(
                f"{out}: the synthetic set is incomplete ({len(missing)} file(s) missing, e.g. "
                f"{missing[0]}); pass --overwrite to regenerate it"
            )
        return "reuse"
    if progress_path.is_file():
        try:
            found = json.loads(progress_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            found = None
        if found == params:
            return "resume"
        raise DataError(
            f"{out} holds an interrupted synthetic set made with other parameters ({found}); pass "
            f"--overwrite to replace it"
        )
    raise DataError(
        f"{out} is not empty and holds no synthetic set ({META_NAME} is missing); choose an empty "
        f"folder or pass --overwrite (it removes only the names the generator writes)"
    )


def synthesize(
    out_dir: str | Path,
    scenes: int,
    seed: int = 0,
    size: int = 256,
    pairs_per_scene: int = DEFAULT_PAIRS_PER_SCENE,
    *,
    overwrite: bool = False,
    progress: bool = False,
) -> SynthSummary:
    """Write the synthetic set into `out_dir` (module docstring) and return its summary."""
    if size < MIN_SIZE:
        raise ValueError(f"size must be ≥ {MIN_SIZE} px, got {size}")
    layout = scene_layout(pairs_per_scene)
    splits = split_scenes(scenes, seed)
    out = Path(out_dir)
    params = _params(seed, scenes, size, pairs_per_scene)
    state = _check_folder(out, params, overwrite)
    if state == "reuse":
        return _summary_from_meta(out)
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / PROGRESS_NAME, dumps_json(params))
    image_dir = out / "images"
    image_dir.mkdir(exist_ok=True)
    sources = list(SOURCES)
    shuffle(text_rng(seed, "sources"), sources)
    scene_pairs: dict[int, list[SynthPair]] = {}
    looks: dict[str, Any] = {}
    images_kept = 0
    iterator = range(1, scenes + 1)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc="scenes", unit="scene")
    for scene in iterator:
        pairs, record, kept = _scene(
            scene, seed, size, layout, sources[(scene - 1) % len(sources)], image_dir
        )
        scene_pairs[scene] = pairs
        looks.update(record)
        images_kept += kept
    files = _write_annotations(out, seed, splits, scene_pairs, looks)
    by_split = _split_pairs(splits, scene_pairs)
    values = [p.delta_v for pairs in scene_pairs.values() for p in pairs]
    stats = {
        "min": min(values),
        "max": max(values),
        "mean": round(statistics.fmean(values), 6),
        "median": round(statistics.median(values), 6),
    }
    counts = {name: len(pairs) for name, pairs in by_split.items()}
    image_files = sorted(f"images/{name}" for name in looks)
    meta = {
        "parameters": params,
        "layout": asdict(layout),
        "splits": {name: {"scenes": splits[name], "pairs": counts[name]} for name in SPLITS},
        "counts": {
            "scenes": scenes,
            "images": len(image_files),
            "pairs": sum(counts[s] for s in SPLITS),
            **{k: v for k, v in counts.items() if k not in SPLITS},
        },
        "delta_v": {"version": PROXY_VERSION, "formula": PROXY_FORMULA, **stats},
        "severity_thresholds": {a: list(t) for a, t in SEVERITY_THRESHOLDS.items()},
        "edit_groups": {f"{g:02d}": kind for g, kind in EDIT_GROUPS.items()},
        "sources": sources,
        "files": files + image_files,
    }
    write_json(out / META_NAME, meta)
    (out / PROGRESS_NAME).unlink(missing_ok=True)
    return SynthSummary(
        str(out),
        seed,
        scenes,
        size,
        pairs_per_scene,
        len(image_files),
        counts,
        stats,
        False,
        images_kept,
        time.perf_counter() - started,
        [META_NAME, *files],
    )


def _split_pairs(splits: dict[str, list[int]], scene_pairs: dict[int, list[SynthPair]]) -> dict[str, list]:
    out = {name: [p for scene in splits[name] for p in scene_pairs[scene]] for name in SPLITS}
    out["test_aligned"] = [p for p in out["test"] if p.aligned]
    out["test_notaligned"] = [p for p in out["test"] if not p.aligned]
    return out


def _write_annotations(
    out: Path,
    seed: int,
    splits: dict[str, list[int]],
    scene_pairs: dict[int, list[SynthPair]],
    looks: dict[str, Any],
) -> list[str]:
    """CSVs, score / depict JSONs, severity tables, the training mix and looks.json; returns their names."""
    files: list[str] = []

    def put(name: str, text: str) -> None:
        write_text_atomic(out / name, text)
        files.append(name)

    by_split = _split_pairs(splits, scene_pairs)
    score: dict[str, list] = {}
    for name, pairs in by_split.items():
        put(f"{name}.csv", _csv_text(pairs))
        score[name] = build_score_records(_spcd_pairs(pairs), seed=seed)
        put(f"score_task/{name}_data.json", dumps_records(score[name]))
    depict_train = None
    for name in SPLITS:
        pairs = by_split[name]
        put(f"severities/{name}.csv", _severity_csv_text(pairs))
        items = [SeverityItem((p.image_a, p.image_b), p.severities) for p in pairs]
        records = build_describe_records(items, seed=seed, fmt="train" if name == "train" else "test")
        put(f"depict_task/depict_{name}.json", dumps_records(records))
        if name == "train":
            depict_train = records
    mixed = mix_records({"score_train": score["train"], "depict_train": depict_train}, seed=seed)
    put("train_mix.json", dumps_records(mixed.records))
    put("looks.json", dumps_json(looks))
    return files


def _summary_from_meta(out: Path) -> SynthSummary:
    meta = json.loads((out / META_NAME).read_text(encoding="utf-8"))
    params = meta["parameters"]
    counts = {name: meta["splits"][name]["pairs"] for name in SPLITS}
    counts.update({k: meta["counts"][k] for k in ("test_aligned", "test_notaligned")})
    stats = {k: meta["delta_v"][k] for k in ("min", "max", "mean", "median")}
    return SynthSummary(
        str(out),
        params["seed"],
        params["scenes"],
        params["size"],
        params["pairs_per_scene"],
        meta["counts"]["images"],
        counts,
        stats,
        True,
        0,
        0.0,
        [name for name in meta["files"] if not name.startswith("images/")],
    )
