"""ARO (arXiv 2210.01936): VG-Relation, VG-Attribution, COCO-Order and Flickr30k-Order (REFERENCE.md section 4).

Layout: `<root>/aro/visual_genome_{relation,attribution}.json` with images under `<root>/aro/images/`, and the Karpathy
test files `<root>/coco/coco_karpathy_test.json`, `<root>/flickr30k/flickr30k_test.json` for the order tasks.

Subsets (accuracy in [0, 1]):
- `vg_relation`: macro mean of per-relation accuracy over relations NOT in `VG_RELATION_EXCLUDED` (the 157 symmetric or
  ambiguous relation names of ARO's evaluation, the number papers report); `vg_relation_all`: over every relation.
- `vg_attribution`: macro mean over attribute pairs `f"{a[0]}_{a[1]}"` with >= 25 items.
- `coco_order`, `flickr30k_order`: precision@1 of the true caption among itself and its 4 ARO perturbations
  (`ahnpl_lightning.data.negatives.order_perturbations(caption, seed + item_index)`), every option passed through
  `pre_caption`; here a tie counts as correct (ARO's argmax picks the first, true, option). VG: a tie is wrong.
World-split side-file keys: `visual_genome_<kind>#<index>` for VG items, the record's `image` for order items.
"""

from __future__ import annotations

import re
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
    macro,
    mean_of,
    put,
    read_annotations,
    record_split,
    run_choice_benchmark,
    skipped_result,
)

NAME = "aro"
VG_FILES = {"vg_relation": "visual_genome_relation.json", "vg_attribution": "visual_genome_attribution.json"}
ORDER_FILES = {
    "coco_order": ("coco", "coco_karpathy_test.json"),
    "flickr30k_order": ("flickr30k", "flickr30k_test.json"),
}
ORDER_SUBSETS = frozenset(ORDER_FILES)
VG_ATTRIBUTION_MIN_COUNT = 25
ORDER_MAX_WORDS = 30

# The 157 relation names ARO's evaluation drops from VG-Relation (symmetric or ambiguous relations), as listed in the
# ARO evaluation code and reused by later work (e.g. the ARO dataset wrappers of the compositionality benchmarks).
VG_RELATION_EXCLUDED: tuple[str, ...] = (
    "adjusting", "attached to", "between", "bigger than", "biting", "boarding", "brushing", "chewing", "cleaning",
    "climbing", "close to", "coming from", "coming out of", "contain", "crossing", "dragging", "draped over",
    "drinking", "drinking from", "driving", "driving down", "driving on", "eating from", "eating in", "enclosing",
    "exiting", "facing", "filled with", "floating in", "floating on", "flying", "flying above", "flying in",
    "flying over", "flying through", "full of", "going down", "going into", "going through", "grazing in",
    "growing in", "growing on", "guiding", "hanging from", "hanging in", "hanging off", "hanging over",
    "higher than", "holding onto", "hugging", "in between", "jumping off", "jumping on", "jumping over",
    "kept in", "larger than", "leading", "leaning over", "leaving", "licking", "longer than", "looking in",
    "looking into", "looking out", "looking over", "looking through", "lying next to", "lying on top of", "making",
    "mixed with", "mounted on", "moving", "on the back of", "on the edge of", "on the front of",
    "on the other side of", "opening", "painted on", "parked at", "parked beside", "parked by", "parked in",
    "parked in front of", "parked near", "parked next to", "perched on", "petting", "piled on", "playing",
    "playing in", "playing on", "playing with", "pouring", "reaching for", "reading", "reflected on", "riding on",
    "running in", "running on", "running through", "seen through", "sitting behind", "sitting beside",
    "sitting by", "sitting in front of", "sitting near", "sitting next to", "sitting under", "skiing down",
    "skiing on", "sleeping in", "sleeping on", "smiling at", "sniffing", "splashing", "sprinkled on", "stacked on",
    "standing against", "standing around", "standing behind", "standing beside", "standing in front of",
    "standing near", "standing next to", "staring at", "stuck in", "surrounding", "swimming in", "swinging",
    "talking to", "topped with", "touching", "traveling down", "traveling on", "tying", "typing on", "underneath",
    "wading in", "waiting for", "walking across", "walking by", "walking down", "walking next to",
    "walking through", "working in", "working on", "worn on", "wrapped around", "wrapped in", "by", "of", "near",
    "next to", "with", "beside", "on the side of", "around",
)


def pre_caption(caption: str, max_words: int = ORDER_MAX_WORDS) -> str:
    """ARO's caption cleaning: lower-case, replace ``.!"()*#:;~`` by spaces, squeeze spaces, keep `max_words` words."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    return " ".join(caption.split(" ")[:max_words])


def load_vg_items(
    path: Path, images_dir: Path, subset: str, limit: int | None = None, bad: BadRecords | None = None
) -> list[ChoiceItem]:
    """VG-Relation / VG-Attribution records -> items (true caption first), image cropped to the record's bbox."""
    bad = bad or BadRecords(NAME)
    split_map = load_split_map(path.parent)
    items: list[ChoiceItem] = []
    for index, rec in enumerate(read_annotations(path, list, bad)):
        key = f"{path.stem}#{index}"
        try:
            if subset == "vg_relation":
                category = str(rec["relation_name"])
            else:
                category = f"{rec['attributes'][0]}_{rec['attributes'][1]}"
            bbox = (float(rec["bbox_x"]), float(rec["bbox_y"]), float(rec["bbox_w"]), float(rec["bbox_h"]))
            image = ImageRef(str(images_dir / rec["image_path"]), bbox)
            options = (str(rec["true_caption"]), str(rec["false_caption"]))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            bad.add(f"{path}[{index}]", repr(exc))
            continue
        items.append(ChoiceItem(image, options, subset, category, record_split(rec, key, split_map), key))
        if limit is not None and len(items) >= limit:
            break
    return items


def load_order_items(
    path: Path,
    images_dir: Path,
    subset: str,
    perturb: Callable[[str, int], list[str]],
    seed: int = 0,
    limit: int | None = None,
    bad: BadRecords | None = None,
) -> list[ChoiceItem]:
    """Karpathy records -> one item per (image, caption): the cleaned caption first, then its cleaned perturbations."""
    bad = bad or BadRecords(NAME)
    split_map = load_split_map(path.parent)
    items: list[ChoiceItem] = []
    for index, rec in enumerate(read_annotations(path, list, bad)):
        try:
            image = ImageRef(str(images_dir / rec["image"]))
            captions = rec["caption"] if isinstance(rec["caption"], list) else [rec["caption"]]
            split = record_split(rec, str(rec["image"]), split_map)
        except (KeyError, TypeError) as exc:
            bad.add(f"{path}[{index}]", repr(exc))
            continue
        for caption in captions:
            perturbed = [pre_caption(p) for p in perturb(str(caption), seed + len(items))]
            if not perturbed:
                bad.add(f"{path}[{index}]", f"no perturbation for caption {caption!r}")
                continue
            options = (pre_caption(str(caption)), *perturbed)
            items.append(ChoiceItem(image, options, subset, None, split, f"{rec['image']}#{len(items)}"))
            if limit is not None and len(items) >= limit:
                return items
    return items


def aggregate(scored: Sequence[ScoredItem]) -> tuple[dict[str, Metric], dict[str, Metric]]:
    """Per-subset numbers as described in the module docstring; summary `vg_mean` = mean of VG-R and VG-A."""
    groups: dict[str, dict[str | None, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for s in scored:
        groups[s.item.subset][s.item.category].append(s.correct)
    relations = groups.get("vg_relation", {})
    excluded = set(VG_RELATION_EXCLUDED)
    subsets: dict[str, Metric] = {}
    put(subsets, "vg_relation", macro({r: f for r, f in relations.items() if r not in excluded}))
    put(subsets, "vg_relation_all", macro(relations))
    put(subsets, "vg_attribution", macro(groups.get("vg_attribution", {}), min_count=VG_ATTRIBUTION_MIN_COUNT))
    for subset in ORDER_FILES:
        put(subsets, subset, accuracy([c for flags in groups.get(subset, {}).values() for c in flags]))
    summary: dict[str, Metric] = {}
    if "vg_relation" in subsets and "vg_attribution" in subsets:
        put(summary, "vg_mean", mean_of([subsets["vg_relation"], subsets["vg_attribution"]]))
    return subsets, summary


def _order_perturbations() -> Callable[[str, int], list[str]] | None:
    try:
        from ahnpl_lightning.data.negatives import order_perturbations
    except ImportError as exc:
        log.warning("aro: COCO/Flickr30k-Order skipped: order_perturbations is unavailable (%s)", exc)
        return None
    return order_perturbations


def load_items(
    data_root: str | Path,
    paths: Mapping[str, str] | None = None,
    limit: int | None = None,
    seed: int = 0,
    bad: BadRecords | None = None,
) -> list[ChoiceItem]:
    """All ARO items found under the data root (parts whose file is absent are skipped with a log line)."""
    bad = bad or BadRecords(NAME)
    aro_dir = bench_dir(data_root, "aro", paths)
    items: list[ChoiceItem] = []
    for subset, filename in VG_FILES.items():
        path = aro_dir / filename
        if path.is_file():
            items += load_vg_items(path, aro_dir / "images", subset, limit, bad)
        else:
            log.info("aro: %s skipped, %s not found", subset, path)
    perturb = None
    for subset, (folder, filename) in ORDER_FILES.items():
        directory = bench_dir(data_root, folder, paths)
        path = directory / filename
        if not path.is_file():
            log.info("aro: %s skipped, %s not found", subset, path)
            continue
        perturb = perturb or _order_perturbations()
        if perturb is not None:
            items += load_order_items(path, directory, subset, perturb, seed, limit, bad)
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
    seed: int = 0,
) -> BenchmarkResult:
    """Evaluate ARO; skipped (not an error) when none of its files exists."""
    aro_dir = bench_dir(data_root, "aro", paths)
    candidates = [aro_dir / f for f in VG_FILES.values()]
    candidates += [bench_dir(data_root, folder, paths) / f for folder, f in ORDER_FILES.values()]
    if not any(p.is_file() for p in candidates):
        return skipped_result(NAME, f"none of {[str(p) for p in candidates]} exists")
    bad = BadRecords(NAME)
    items = load_items(data_root, paths, limit, seed, bad)
    with encoding(model, preprocess, tokenizer, encoder, device, batch_size, num_workers, progress) as enc:
        return run_choice_benchmark(
            NAME, items, aggregate, enc, lambda it: it.subset in ORDER_SUBSETS, bad.count, cache
        )
