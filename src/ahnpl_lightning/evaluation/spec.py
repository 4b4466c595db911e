"""A benchmark is a `BenchmarkSpec`: its name, the files it reads under the data root, how they become items, how
scored items aggregate, its tie rule, and (optionally) its writer for the synthetic world's export. One generic
`evaluate` runs any spec; `benchmarks/` holds one spec per file, registered by name.

    SPEC = BenchmarkSpec(name="eqben", files=..., load=..., aggregate=...)   # benchmarks/eqben.py
    MODULES = (..., "eqben")                                                  # benchmarks/__init__.py

Choice benchmarks (one image, caption options, option 0 correct) need only `files`, `load` and `aggregate`; a
benchmark with another item shape (Winoground's 2x2, retrieval's similarity matrix) brings its own `score`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

import torch
from torch import Tensor, nn

from ahnpl_lightning.evaluation.encoders import Encoder, encoding
from ahnpl_lightning.evaluation.files import BadRecords, Location
from ahnpl_lightning.evaluation.items import ChoiceItem, ImageRef
from ahnpl_lightning.evaluation.metrics import Metric, item_outcome
from ahnpl_lightning.evaluation.scoring import (
    SPLITS,
    Aggregator,
    BenchmarkResult,
    FeatureCache,
    Features,
    encode_distinct,
    report_images,
    score_choices,
    skipped_result,
    with_world_splits,
)

if TYPE_CHECKING:
    from ahnpl_lightning.data.world import World
    from ahnpl_lightning.data.world.export import WorldExport


class EvalOptions(TypedDict, total=False):
    """How to run an evaluation (shared by `BenchmarkSpec.evaluate` and `evaluate_benchmarks`): `paths` overrides
    benchmark folders (`{"coco": "/data/coco"}`), `batch_size`/`num_workers`/`device` drive the `ModelEncoder`,
    `encoder` replaces it (then model, preprocess and tokenizer may be None), `progress` shows bars (rank 0),
    `seed` seeds ARO's order perturbations and `tagger` tags their words (`auto`, `nltk` or `builtin`)."""

    paths: Mapping[str, str] | None
    batch_size: int
    num_workers: int
    device: str | torch.device | None
    encoder: Encoder | None
    progress: bool
    seed: int
    tagger: str


DEFAULT_OPTIONS: EvalOptions = {"paths": None, "batch_size": 64, "num_workers": 0, "device": None, "encoder": None,
                                "progress": True, "seed": 0, "tagger": "auto"}


@dataclass(frozen=True)
class Request:
    """What a spec's `load` gets: where the files are, the per-file item limit, the seed and tagger (for generated
    options such as ARO's order perturbations), and the bad-record tally."""

    where: Location
    limit: int | None = None
    seed: int = 0
    bad: BadRecords = field(default_factory=lambda: BadRecords("benchmark"))
    tagger: str = "auto"


@dataclass
class Scores:
    """What scoring returns: figures, per-item outcomes, and how many loaded items could not be scored."""

    subsets: dict[str, Metric]
    summary: dict[str, Metric]
    outcomes: list[dict[str, Any]]
    unscored: int = 0


@dataclass(frozen=True)
class WorldWriter:
    """Writes a benchmark's files from the synthetic world (`write(export)`); `files(world)` is how many files of
    `size` items it writes (for the progress bar); writers run in `order` (image ids are numbered in that order)."""

    write: Callable[[WorldExport], None]
    files: Callable[[World], int]
    order: int = 100


def figure_name(name: str) -> str:
    """A figure's name without its world-split suffix (`replace_obj@held_out` -> `replace_obj`)."""
    base, _, split = name.rpartition("@")
    return base if base and split in SPLITS else name


def never(item: Any) -> bool:
    """The default tie rule: a tie is wrong."""
    return False


def choice_images(item: ChoiceItem) -> Iterable[ImageRef]:
    """The image a choice item shows."""
    return (item.image,)


def choice_texts(item: ChoiceItem) -> Iterable[str]:
    """The caption options of a choice item."""
    return item.options


def score_choice_items(spec: BenchmarkSpec, items: Sequence[ChoiceItem], features: Features) -> Scores:
    """The generic choice scoring: correct iff option 0 beats every other option (ties per `spec.tie_correct`),
    aggregated by `spec.aggregate` overall and per world split; outcomes in file order."""
    scored, skipped = [], []
    for rule in (False, True):
        group = [it for it in items if bool(spec.tie_correct(it)) == rule]
        s, k = score_choices(group, features, tie_correct=rule)
        scored += s
        skipped += k
    subsets, summary = with_world_splits(scored, spec.aggregate)
    position = {id(it): i for i, it in enumerate(items)}
    outcomes = [
        item_outcome(s.item.key, s.item.subset, s.item.split, s.correct, s.item.category)
        for s in sorted(scored, key=lambda s: position[id(s.item)])
    ]
    return Scores(subsets, summary, outcomes, len(skipped))


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark. `files(where)`: the files it reads when present (none present: the benchmark is skipped);
    `load(request)`: its items; `aggregate(scored)`: (subsets, summary); `tie_correct(item)`: whether a tie counts
    as correct for that item; `score`, `images`, `texts`: the item shape (choice items by default); `world`: its
    writer for the synthetic world's export; `describe(figure)`: (what the figure's value measures, what its count
    counts); `min_items[subset]`: (the fewest items a category needs to enter that subset, the category's name)."""

    name: str
    files: Callable[[Location], Sequence[Path]]
    load: Callable[[Request], Sequence[Any]]
    aggregate: Aggregator | None = None
    tie_correct: Callable[[Any], bool] = never
    score: Callable[[BenchmarkSpec, Sequence[Any], Features], Scores] = score_choice_items
    images: Callable[[Any], Iterable[ImageRef]] = choice_images
    texts: Callable[[Any], Iterable[str]] = choice_texts
    world: WorldWriter | None = None
    describe: Callable[[str], tuple[str, str]] = lambda name: ("accuracy", "items")
    min_items: Mapping[str, tuple[int, str]] = field(default_factory=dict)

    def load_items(self, data_root: str | Path, paths: Mapping[str, str] | None = None, limit: int | None = None,
                   seed: int = 0, bad: BadRecords | None = None) -> list[Any]:
        """This benchmark's items under a data root (no model involved: for inspection, tests and benchmarks)."""
        where = Location(Path(data_root), dict(paths or {}))
        return list(self.load(Request(where, limit, seed, bad or BadRecords(self.name))))

    def evaluate(
        self,
        model: nn.Module | None,
        preprocess: Callable[[Any], Tensor] | None,
        tokenizer: Callable[[list[str]], Tensor] | None,
        data_root: str | Path,
        *,
        limit: int | None = None,
        cache: FeatureCache | None = None,
        **options: Unpack[EvalOptions],
    ) -> BenchmarkResult:
        """Evaluate this benchmark with a model (or an `encoder`, see `EvalOptions`); skipped (not an error) when none
        of its files exists. `limit` caps items per file, `cache` shares features across benchmarks of one run."""
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            raise TypeError(f"evaluate() got unexpected option(s) {unknown}; known: {sorted(DEFAULT_OPTIONS)}")
        opts = {**DEFAULT_OPTIONS, **options}
        where = Location(Path(data_root), dict(opts["paths"] or {}))
        candidates = list(self.files(where))
        if not any(p.is_file() for p in candidates):
            reason = (f"none of {[str(p) for p in candidates]} exists" if candidates
                      else f"no {self.name} files found under {where.data_root}")
            return skipped_result(self.name, reason)
        bad = BadRecords(self.name)
        for path in candidates:
            if path.exists() and not path.is_file():
                bad.unreadable(path, "a directory where a file is expected")
        items = self.load(Request(where, limit, opts["seed"], bad, opts["tagger"]))
        refs = [r for it in items for r in self.images(it)]
        with encoding(model, preprocess, tokenizer, opts["encoder"], opts["device"], opts["batch_size"],
                      opts["num_workers"], opts["progress"]) as enc:
            features = encode_distinct(enc, refs, (t for it in items for t in self.texts(it)), cache)
        scores = self.score(self, items, features)
        result = BenchmarkResult(self.name, scores.subsets, scores.summary, items=scores.outcomes,
                                 problems=list(bad.problems), skipped_estimated=bad.estimated)
        result.absent_files = [str(p) for p in candidates if not p.exists()]
        report_images(result, features, refs, scores.unscored + bad.count, uses=Counter(refs))
        result.measures = {name: dict(zip(("measure", "count_of"), self.describe(figure_name(name))))
                           for name in (*result.subsets, *result.summary)}
        result.notes = self.threshold_notes(result, scores.outcomes, limit)
        return result

    def threshold_notes(self, result: BenchmarkResult, outcomes: Sequence[dict[str, Any]],
                        limit: int | None) -> list[str]:
        """Say when a category threshold (`min_items`) left categories, or a whole subset, out of the figures."""
        notes = []
        for subset, (minimum, kind) in self.min_items.items():
            sizes = Counter(o["category"] for o in outcomes if o["subset"] == subset)
            small = sorted(c for c, n in sizes.items() if n < minimum)
            if limit is not None and limit < minimum:
                notes.append(f"{subset}: --limit {limit} is below the {minimum} items per {kind} this subset needs "
                             f"(ARO's rule), so no {kind} can qualify and `{subset}` is left out")
            elif sizes and subset not in result.subsets:
                notes.append(f"{subset}: no {kind} has the {minimum} items it needs ({len(sizes)} {kind}s, at most "
                             f"{max(sizes.values())} items each); the subset is left out")
            elif small:
                notes.append(f"{subset}: {len(small)} of {len(sizes)} {kind}s have fewer than {minimum} items and are "
                             f"left out of the mean, e.g. {small[:3]}")
        return notes
