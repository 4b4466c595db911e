"""`RecordDataset`: samples from annotation records (image under a root, caption, text and image negatives).

Random choices (NegCLIP draws one of a row's hard captions and one of its hard-negative images per sample and epoch)
come from the `random.Random` the caller passes to `item(index, rng)`: the DataModule seeds it per (seed, epoch,
sample index), so the draws are reproducible and a resumed run makes the same ones.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ahnpl_lightning.data.formats import CaptionRecord
from ahnpl_lightning.types import NEGATIVE_TYPES
from ahnpl_lightning.images import ImageProblem, load_image, resolve_image

Draw = Literal["random", "first"]


def tokenize_table(
    tokenizer: Callable[[list[str]], Tensor], texts: Sequence[str | None], chunk: int = 4096
) -> tuple[np.ndarray, int]:
    """Tokenise `texts` once into a compact array [N, L'] (L' = longest real sequence; None -> all-zero row).

    Stored as uint16 when every token id fits (open_clip's BPE vocabulary has 49,408 ids), else int32; returns the
    array and the tokenizer's full context length, to pad rows back at load time.
    """
    index = [i for i, t in enumerate(texts) if t is not None]
    rows: list[Tensor] = []
    context = 0
    for start in range(0, len(index), chunk):
        batch = tokenizer([texts[i] for i in index[start:start + chunk]])  # type: ignore[misc]
        context = batch.shape[1]
        rows.append(batch)
    if not rows:
        context = int(tokenizer([""]).shape[1])
        return np.zeros((len(texts), 1), dtype=np.uint16), context
    tokens = torch.cat(rows)
    used = (tokens != 0).any(dim=0).nonzero()
    width = int(used.max()) + 1 if used.numel() else 1
    dtype = np.uint16 if int(tokens.max()) < 2**16 and int(tokens.min()) >= 0 else np.int32
    out = np.zeros((len(texts), width), dtype=dtype)
    out[np.asarray(index, dtype=np.int64)] = tokens[:, :width].numpy().astype(dtype)
    return out, context


def _row_tokens(table: np.ndarray, rows: Any, context: int) -> Tensor:
    """Rows of a `tokenize_table` array as int64 tokens padded back to `context` columns."""
    part = torch.from_numpy(np.asarray(table[rows], dtype=np.int64))
    pad = [0, context - part.shape[-1]]
    return torch.nn.functional.pad(part, pad)


class RecordDataset(Dataset[dict[str, Any]]):
    """Samples from `CaptionRecord`s: the image under `image_root`, the caption and its text negatives.

    `negatives[i]` maps each type to a text or None. `choices[i]` (NegCLIP) maps a type to several alternatives, one
    of which is drawn per sample (`draw="random"`) or the first taken (`"first"`). `neg_image_rows[i]` (NegCLIP)
    lists the dataset positions of the rows whose images may be sample i's hard-negative images (None: out of
    range, already reported by the source); `neg_image_count` of them are drawn (or the first ones taken), and each
    brings its image, its caption and its own text negatives. `pretokenize` replaces per-sample tokenisation by one
    pass over the whole table.
    """

    def __init__(
        self,
        records: Sequence[CaptionRecord],
        image_root: str | Path,
        negatives: Sequence[dict[str, str | None]],
        image_paths: Sequence[str | None] | None = None,
        neg_image_rows: Sequence[Sequence[int | None]] | None = None,
        neg_image_count: int | None = None,
        choices: Sequence[dict[str, tuple[str, ...]]] | None = None,
        draw: Draw = "first",
    ) -> None:
        if len(negatives) != len(records):
            raise ValueError(f"{len(negatives)} negative rows for {len(records)} records")
        self.records = list(records)
        self.image_root = Path(image_root)
        self.negatives = list(negatives)
        self.image_paths = list(image_paths) if image_paths is not None else [r.image_path for r in self.records]
        self.neg_image_rows = [list(r) for r in neg_image_rows] if neg_image_rows is not None else None
        counts = [len(r) for r in self.neg_image_rows or []]
        self.neg_image_count = neg_image_count if neg_image_count is not None else max(counts, default=0)
        self.choices = list(choices) if choices is not None else None
        self.draw = draw
        self.tokens: np.ndarray | None = None  # [N, 1 + K, L'] after pretokenize
        self.choice_tokens: np.ndarray | None = None  # [alternatives, L'] after pretokenize
        self.choice_rows: list[dict[str, list[int]]] = []
        self.context = 0
        self.negative_types: tuple[str, ...] = NEGATIVE_TYPES

    def __len__(self) -> int:
        return len(self.records)

    def image_file(self, index: int) -> Path | None:
        """Where sample `index`'s image should be (None: the annotation names none)."""
        return resolve_image(self.image_root, self.image_paths[index])

    def pretokenize(self, tokenizer: Callable[[list[str]], Tensor], negative_types: Sequence[str]) -> None:
        """Tokenise every caption, negative and alternative once (uint16 arrays for open_clip's BPE)."""
        self.negative_types = tuple(negative_types)
        width = 1 + len(self.negative_types)
        texts: list[str | None] = []
        for record, negs in zip(self.records, self.negatives):
            texts.append(record.caption)
            texts.extend(negs.get(t) for t in self.negative_types)
        table, self.context = tokenize_table(tokenizer, texts)
        self.tokens = table.reshape(len(self.records), width, table.shape[-1])
        if self.choices is not None:
            alternatives: list[str | None] = []
            self.choice_rows = []
            for options in self.choices:
                rows: dict[str, list[int]] = {}
                for kind, texts_of_kind in options.items():
                    rows[kind] = list(range(len(alternatives), len(alternatives) + len(texts_of_kind)))
                    alternatives.extend(texts_of_kind)
                self.choice_rows.append(rows)
            self.choice_tokens = tokenize_table(tokenizer, alternatives)[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.item(index, None)

    def item(self, index: int, rng: random.Random | None) -> dict[str, Any]:
        """Sample `index`; `rng` makes the random draws (None, or `draw="first"`: the first of each choice)."""
        record = self.records[index]
        path = self.image_file(index)
        image = load_image(path)
        if isinstance(image, ImageProblem):
            return {"skipped": image.kind, "location": f"{record.location} ({path or 'no image path'})"}
        negatives, tokens = self._negatives_of(index, rng)
        item: dict[str, Any] = {"image": image, "caption": record.caption, "negatives": negatives,
                                "location": record.location}
        if tokens is not None:
            item["caption_tokens"], item["negative_tokens"] = tokens[0], tokens[1:]
        if self.neg_image_rows is not None:
            self._add_image_negatives(item, index, rng)
        return item

    def _negatives_of(self, index: int, rng: random.Random | None) -> tuple[dict[str, str | None], Tensor | None]:
        """Row `index`'s text negatives with its choices drawn, and its tokens [1 + K, L] when pretokenised."""
        negatives = dict(self.negatives[index])
        tokens = _row_tokens(self.tokens, index, self.context) if self.tokens is not None else None
        options = self.choices[index] if self.choices is not None else {}
        for kind, alternatives in options.items():  # insertion order: the same in every process
            pick = rng.randrange(len(alternatives)) if rng is not None and self.draw == "random" else 0
            negatives[kind] = alternatives[pick]
            if tokens is not None and self.choice_tokens is not None and kind in self.negative_types:
                row = self.choice_rows[index][kind][pick]
                tokens[1 + self.negative_types.index(kind)] = _row_tokens(self.choice_tokens, row, self.context)
        return negatives, tokens

    def _draw_rows(self, index: int, rng: random.Random | None) -> list[int | None]:
        """The rows whose images become sample `index`'s image negatives (`neg_image_count` of them)."""
        assert self.neg_image_rows is not None
        candidates, count = self.neg_image_rows[index], self.neg_image_count
        if rng is None or self.draw == "first":
            chosen = list(candidates[:count])
        else:
            usable = [row for row in candidates if row is not None]
            chosen = list(rng.sample(usable, min(count, len(usable))))
        return chosen + [None] * (count - len(chosen))

    def _add_image_negatives(self, item: dict[str, Any], index: int, rng: random.Random | None) -> None:
        """NegCLIP: the drawn rows' images, titles and text negatives; a missing/unreadable one is None and an issue."""
        images: list[Any] = []
        captions: list[str | None] = []
        negatives: list[dict[str, str | None] | None] = []
        tokens: list[Tensor] = []
        issues: list[tuple[str, str]] = []
        empty = torch.zeros((1 + len(self.negative_types), self.context), dtype=torch.long)
        for row in self._draw_rows(index, rng):
            picture = None
            if row is not None:
                loaded = load_image(self.image_file(row))
                if isinstance(loaded, ImageProblem):
                    kind = "neg_image_unreadable" if loaded.kind == "unreadable_image" else "neg_image_missing"
                    issues.append((kind, f"{self.records[index].location} -> {self.records[row].location} "
                                         f"({loaded.path or 'no image path'})"))
                else:
                    picture = loaded
            if picture is None or row is None:
                images.append(None)
                captions.append(None)
                negatives.append(None)
                tokens.append(empty)
                continue
            row_negatives, row_tokens = self._negatives_of(row, rng)
            images.append(picture)
            captions.append(self.records[row].caption)
            negatives.append(row_negatives)
            tokens.append(row_tokens if row_tokens is not None else empty)
        item["neg_images"], item["neg_image_captions"], item["neg_image_negatives"] = images, captions, negatives
        if self.tokens is not None:
            item["neg_image_tokens"] = torch.stack(tokens) if tokens else empty[:0]
        if issues:
            item["issues"] = issues
