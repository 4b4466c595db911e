"""VALSE (Parcalabescu et al., ACL 2022): 11 pieces, pairwise accuracy caption vs foil (REFERENCE.md section 4).

Layout: `<root>/valse/<piece>.json` (`{id: record}`), images `<root>/valse/images/<record.dataset>/<record.image_file>`.
Filter (the official rule): keep records with `mturk.caption >= 2`. The official scripts read `mturk` for VALSE pieces
and treat data without annotator validation as accepted ("pretend like the sample was accepted by annotators"); we do
the same for records that have no `mturk` field at all (e.g. synthetic exports): they are kept, and their number is
logged. A record whose `mturk.caption` is not a number is malformed (counted, skipped).
Correct iff score(caption) > score(foil); a tie is wrong. List-valued captions/foils use their first entry.
Subsets: one per piece present. Summary: `mean_pieces` (mean over pieces), `category/<name>` for the 7 categories
(Counting, Actions and Coreference average their pieces) and `mean_categories`.
World-split side-file key: `<piece>/<record id>`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ahnpl_lightning.evaluation.scoring import (
    BadRecords,
    BenchmarkResult,
    ChoiceItem,
    Encoder,
    FeatureCache,
    ImageRef,
    Metric,
    ScoredItem,
    accuracy,
    bench_dir,
    encoding,
    load_split_map,
    log,
    mean_of,
    put,
    read_annotations,
    record_split,
    run_choice_benchmark,
    skipped_result,
)

NAME = "valse"
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Existence": ("existence",),
    "Plurality": ("plurals",),
    "Counting": ("counting-hard", "counting-small-quant", "counting-adversarial"),
    "Relations": ("relations",),
    "Actions": ("action-replacement", "actant-swap"),
    "Coreference": ("coreference-standard", "coreference-hard"),
    "Foil-it": ("foil-it",),
}
PIECES: tuple[str, ...] = tuple(p for pieces in CATEGORIES.values() for p in pieces)
MIN_MTURK_CAPTION = 2


def _first(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) else str(value)


def keep_record(record: Mapping[str, Any]) -> bool:
    """The official filter: `mturk.caption >= 2`; a record without `mturk` counts as accepted (see module doc)."""
    if "mturk" not in record:
        return True
    return float(record["mturk"]["caption"]) >= MIN_MTURK_CAPTION


def load_piece(
    path: Path, images_dir: Path, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """One piece file -> items (caption first, foil second) passing the mturk filter."""
    bad = bad or BadRecords(NAME)
    piece = path.stem
    split_map = load_split_map(path.parent)
    data = read_annotations(path, dict, bad)
    items: list[ChoiceItem] = []
    unvalidated = 0
    for rec_id, rec in data.items():
        try:
            if not keep_record(rec):
                continue
            unvalidated += "mturk" not in rec
            image = ImageRef(str(images_dir / str(rec["dataset"]) / str(rec["image_file"])))
            options = (_first(rec["caption"]), _first(rec["foil"]))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            bad.add(f"{path}[{rec_id!r}]", repr(exc))
            continue
        key = f"{piece}/{rec_id}"
        items.append(ChoiceItem(image, options, piece, None, record_split(rec, key, split_map), key))
        if limit is not None and len(items) >= limit:
            break
    if unvalidated:
        log.info("valse: %s: %d record(s) without an mturk field kept as accepted", path, unvalidated)
    return items


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-piece accuracy, mean of pieces, per-category means and their mean."""
    flags: dict[str, list[bool]] = defaultdict(list)
    for s in scored:
        flags[s.item.subset].append(s.correct)
    subsets: dict[str, Metric] = {}
    for piece in sorted(flags, key=lambda p: PIECES.index(p) if p in PIECES else len(PIECES)):
        put(subsets, piece, accuracy(flags[piece]))
    summary: dict[str, Metric] = {}
    put(summary, "mean_pieces", mean_of(subsets.values()))
    for category, pieces in CATEGORIES.items():
        put(summary, f"category/{category}", mean_of(subsets.get(p) for p in pieces))
    put(summary, "mean_categories", mean_of(summary.get(f"category/{c}") for c in CATEGORIES))
    return subsets, summary


def load_items(
    data_root: str | Path, paths: Mapping[str, str] | None = None, limit: int | None = None,
    bad: BadRecords | None = None,
) -> list[ChoiceItem]:
    """Items of every known piece present under `<root>/valse/` (images under `valse_images` override if given)."""
    valse_dir = bench_dir(data_root, NAME, paths)
    images_dir = Path(paths["valse_images"]) if paths and paths.get("valse_images") else valse_dir / "images"
    items: list[ChoiceItem] = []
    for piece in PIECES:
        path = valse_dir / f"{piece}.json"
        if path.is_file():
            items += load_piece(path, images_dir, limit, bad)
        else:
            log.info("valse: piece %s skipped, %s not found", piece, path)
    return items


def evaluate(
    model: nn.Module | None,
    preprocess: Callable[[Any], Tensor] | None,
    tokenizer: Callable[[list[str]], Tensor] | None,
    data_root: str | Path,
    *,
    paths: Mapping[str, str] | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    limit: int | None = None,
    device: str | torch.device | None = None,
    encoder: Encoder | None = None,
    cache: FeatureCache | None = None,
    progress: bool = True,
) -> BenchmarkResult:
    """Evaluate VALSE; skipped (not an error) when `<root>/valse/` holds no piece file."""
    valse_dir = bench_dir(data_root, NAME, paths)
    if not any((valse_dir / f"{p}.json").is_file() for p in PIECES):
        return skipped_result(NAME, f"no VALSE piece file in {valse_dir}")
    bad = BadRecords(NAME)
    items = load_items(data_root, paths, limit, bad)
    with encoding(model, preprocess, tokenizer, encoder, device, batch_size, num_workers, progress) as enc:
        return run_choice_benchmark(NAME, items, aggregate, enc, bad_records=bad.count, cache=cache)
