"""SugarCrepe (Hsieh et al., NeurIPS 2023): 7 subsets over COCO val2017 (REFERENCE.md section 4).

Layout: `<root>/sugarcrepe/<subset>.json` = `{key: {filename, caption, negative_caption}}` (keys need not be
contiguous), images `<root>/coco/val2017/<filename>` (override: `paths["sugarcrepe_images"]`, or `paths["coco"]`).
Correct iff score(caption) > score(negative_caption); a tie is wrong. Subsets: the 7 files present. Summary:
`replace`, `swap`, `add` pooled over the items of their subsets (not a mean of subset accuracies).
World-split side-file key: `<subset>/<key>`.
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
    put,
    read_annotations,
    record_split,
    run_choice_benchmark,
    skipped_result,
)

NAME = "sugarcrepe"
SUBSETS = ("replace_obj", "replace_att", "replace_rel", "swap_obj", "swap_att", "add_obj", "add_att")
GROUPS = ("replace", "swap", "add")


def images_dir(data_root: str | Path, paths: Mapping[str, str] | None = None) -> Path:
    """Where SugarCrepe's COCO val2017 images live."""
    if paths and paths.get("sugarcrepe_images"):
        return Path(paths["sugarcrepe_images"])
    return bench_dir(data_root, "coco", paths) / "val2017"


def load_subset(
    path: Path, image_dir: Path, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """One subset file -> items (caption first, negative second), in file order."""
    bad = bad or BadRecords(NAME)
    subset = path.stem
    split_map = load_split_map(path.parent)
    items: list[ChoiceItem] = []
    for key, rec in read_annotations(path, dict, bad).items():
        try:
            image = ImageRef(str(image_dir / str(rec["filename"])))
            options = (str(rec["caption"]), str(rec["negative_caption"]))
        except (KeyError, TypeError) as exc:
            bad.add(f"{path}[{key!r}]", repr(exc))
            continue
        item_key = f"{subset}/{key}"
        items.append(ChoiceItem(image, options, subset, subset.split("_")[0], record_split(rec, item_key, split_map),
                                item_key))
        if limit is not None and len(items) >= limit:
            break
    return items


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-subset accuracy and replace / swap / add pooled over items."""
    by_subset: dict[str, list[bool]] = defaultdict(list)
    by_group: dict[str | None, list[bool]] = defaultdict(list)
    for s in scored:
        by_subset[s.item.subset].append(s.correct)
        by_group[s.item.category].append(s.correct)
    subsets: dict[str, Metric] = {}
    for subset in SUBSETS:
        put(subsets, subset, accuracy(by_subset.get(subset, [])))
    summary: dict[str, Metric] = {}
    for group in GROUPS:
        put(summary, group, accuracy(by_group.get(group, [])))
    return subsets, summary


def load_items(
    data_root: str | Path, paths: Mapping[str, str] | None = None, limit: int | None = None,
    bad: BadRecords | None = None,
) -> list[ChoiceItem]:
    """Items of the subset files present."""
    directory = bench_dir(data_root, NAME, paths)
    items: list[ChoiceItem] = []
    for subset in SUBSETS:
        path = directory / f"{subset}.json"
        if path.is_file():
            items += load_subset(path, images_dir(data_root, paths), limit, bad)
        else:
            log.info("sugarcrepe: subset %s skipped, %s not found", subset, path)
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
    """Evaluate SugarCrepe; skipped (not an error) when no subset file exists."""
    directory = bench_dir(data_root, NAME, paths)
    if not any((directory / f"{s}.json").is_file() for s in SUBSETS):
        return skipped_result(NAME, f"no SugarCrepe subset file in {directory}")
    bad = BadRecords(NAME)
    items = load_items(data_root, paths, limit, bad)
    with encoding(model, preprocess, tokenizer, encoder, device, batch_size, num_workers, progress) as enc:
        return run_choice_benchmark(NAME, items, aggregate, enc, bad_records=bad.count, cache=cache)
