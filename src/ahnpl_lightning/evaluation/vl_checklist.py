"""VL-CheckList (Zhao et al. 2022): every corpus YAML under `<root>/vl_checklist/corpus/` (REFERENCE.md section 4).

Each YAML has `ANNO_PATH` (data file) and `IMG_ROOT`, both relative to `<root>/vl_checklist/`; the data file is a list
of `[image_relpath, {"POS": [...], "NEG": [...]}]`. Correct iff score(POS[0]) > score(NEG[0]) (a tie is wrong). Items
whose image is missing are dropped, as the official loader does, and counted (`missing_images`, `skipped_items`).
Subsets: one per YAML, named by its path under `corpus/` without the extension (e.g. `v1/Attribute/state/vg`).
Summary: `subcategory/<Type>/<...>` = mean over that sub-category's YAML files (e.g. `Object/Location/center`,
`Attribute/color`, `Relation/spatial`: 13 in the full corpus), `Object` / `Attribute` / `Relation` = mean of their
sub-categories, `mean` = mean of the three.
World-split side-file key: `<subset>#<index in the data file>`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import yaml
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

NAME = "vl_checklist"
TYPES = ("Object", "Attribute", "Relation")


def subcategory_of(subset: str) -> str | None:
    """`v1/Object/Location/center/vg` -> `Object/Location/center`; None when no known type is in the path."""
    parts = subset.split("/")[:-1]
    for i, part in enumerate(parts):
        for type_name in TYPES:
            if part.lower() == type_name.lower():
                return "/".join([type_name, *parts[i + 1 :]])
    return None


def load_corpus_file(
    yaml_path: Path, root: Path, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """One corpus YAML and its data file -> items (POS[0] first, NEG[0] second)."""
    bad = bad or BadRecords(NAME)
    subset = yaml_path.relative_to(root / "corpus").with_suffix("").as_posix()
    try:
        spec = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
        anno_path = root / str(spec["ANNO_PATH"])
        img_root = root / str(spec["IMG_ROOT"])
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        bad.add(str(yaml_path), repr(exc))
        return []
    if not anno_path.is_file():
        bad.add(str(yaml_path), f"ANNO_PATH {anno_path} not found")
        return []
    split_map = load_split_map(root)
    items: list[ChoiceItem] = []
    category = subcategory_of(subset)
    for index, rec in enumerate(read_annotations(anno_path, list, bad)):
        key = f"{subset}#{index}"
        try:
            image_rel, texts = rec[0], rec[1]
            options = (str(texts["POS"][0]), str(texts["NEG"][0]))
        except (KeyError, IndexError, TypeError) as exc:
            bad.add(f"{anno_path}[{index}]", repr(exc))
            continue
        split = record_split(texts, key, split_map)
        items.append(ChoiceItem(ImageRef(str(img_root / str(image_rel))), options, subset, category, split, key))
        if limit is not None and len(items) >= limit:
            break
    return items


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-file accuracy, sub-category / type means, and the mean of the three types."""
    flags: dict[str, list[bool]] = defaultdict(list)
    category: dict[str, str | None] = {}
    for s in scored:
        flags[s.item.subset].append(s.correct)
        category[s.item.subset] = s.item.category
    subsets: dict[str, Metric] = {}
    for subset in sorted(flags):
        put(subsets, subset, accuracy(flags[subset]))
    by_sub: dict[str, list[Metric]] = defaultdict(list)
    for subset, m in subsets.items():
        if category[subset] is not None:
            by_sub[category[subset]].append(m)
    summary: dict[str, Metric] = {}
    for sub in sorted(by_sub):
        put(summary, f"subcategory/{sub}", mean_of(by_sub[sub]))
    for type_name in TYPES:
        put(summary, type_name, mean_of(summary[f"subcategory/{s}"] for s in by_sub if s.split("/")[0] == type_name))
    put(summary, "mean", mean_of(summary.get(t) for t in TYPES))
    return subsets, summary


def load_items(
    data_root: str | Path, paths: Mapping[str, str] | None = None, limit: int | None = None,
    bad: BadRecords | None = None,
) -> list[ChoiceItem]:
    """Items of every YAML under `corpus/` (sorted paths, so every rank sees the same order)."""
    root = bench_dir(data_root, NAME, paths)
    items: list[ChoiceItem] = []
    for yaml_path in sorted((root / "corpus").rglob("*.yaml")):
        file_items = load_corpus_file(yaml_path, root, limit, bad)
        if file_items and file_items[0].category is None:
            log.warning("vl_checklist: %s names no Object/Attribute/Relation folder; reported per file only", yaml_path)
        items += file_items
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
    """Evaluate VL-CheckList; skipped (not an error) when `<root>/vl_checklist/corpus/` has no YAML."""
    root = bench_dir(data_root, NAME, paths)
    if not any((root / "corpus").rglob("*.yaml")):
        return skipped_result(NAME, f"no corpus YAML under {root / 'corpus'}")
    bad = BadRecords(NAME)
    items = load_items(data_root, paths, limit, bad)
    with encoding(model, preprocess, tokenizer, encoder, device, batch_size, num_workers, progress) as enc:
        return run_choice_benchmark(NAME, items, aggregate, enc, bad_records=bad.count, cache=cache)
