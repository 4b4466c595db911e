"""`TripletDataset`: a source's samples -> tensors (image, caption tokens, K negative tokens, masks), and the collate.

Every random thing a sample does (the image transform's random crop, NegCLIP's draws) is seeded by (seed, epoch,
sample index): the same sample of the same epoch is identical in any worker, on any number of ranks, and after a
resume from a mid-epoch checkpoint, so a resumed run equals the uninterrupted one.

An unreadable sample keeps its place in the batch as a blank row (zeros, every mask False) marked False in
`sample_mask`: every batch has as many rows as the sampler asked for, so under DDP every rank holds an equally sized
batch, takes part in every step and gathers equal blocks, whatever was unreadable where; the loss and the metrics
ignore blank rows (`ahnpl_lightning.losses.rows`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ahnpl_lightning.types import NEGATIVE_TYPES
from ahnpl_lightning.data.sources import PRETOKENIZE_LIMIT
from ahnpl_lightning.seeding import stable_seed
from ahnpl_lightning.encoding import trim_token_columns

__all__ = ["TripletDataset", "collate_triplets", "sample_seed", "seeded"]

#: Samples `TripletDataset.blank` tries (spread over the dataset) for the structure of a blank row.
BLANK_PROBES = 8


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of sample `index` in epoch `epoch` of a run seeded `seed` (63 bits, the same in every process)."""
    return stable_seed("sample", seed, epoch, index) % 2**63


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with torch's CPU generator and Python's `random` seeded by `seed`; restore both after.

    These are what image transforms draw from (torchvision's from torch's, open_clip's own from `random`); NumPy's
    global generator is left alone (saving and restoring it costs about 0.1 ms per sample), so a custom transform
    must not draw from it if resumed runs are to be exact. Seeding the default generator directly avoids
    `torch.manual_seed`'s re-seeding of every accelerator (about 0.2 ms).
    """
    generator = torch.default_generator
    torch_state, python_state = generator.get_state(), random.getstate()
    generator.manual_seed(seed)
    random.seed(seed)
    try:
        yield
    finally:
        generator.set_state(torch_state)
        random.setstate(python_state)


def _key(key: Any) -> tuple[int, int]:
    """(index, epoch) from a sampler key: an index, or `EpochSampler(keys=True)`'s (index, epoch) pair."""
    if isinstance(key, (tuple, list)):
        return int(key[0]), int(key[1])
    return int(key), 0


def _mask(texts: Sequence[Any]) -> Tensor:
    return torch.tensor([isinstance(t, str) and bool(t.strip()) for t in texts], dtype=torch.bool)


class TripletDataset(Dataset[dict[str, Any]]):
    """Applies the image transform and tokenizer to a source's samples; unreadable samples become skip markers.

    Items: `images [3,H,W]`, `captions [L]`, `negatives [K,L]`, `negative_mask [K]` (which text negatives exist),
    `index` (the dataset position), optionally `image_negatives [K,3,H,W]` with its own `image_negative_mask [K]`
    (world counterfactuals: which images exist; the text mask is never changed by it), NegCLIP's extra rows
    `neg_images [M,3,H,W]`, `neg_image_captions [M,L]`, `neg_image_mask [M]`, `neg_image_negatives [M,K,L]`,
    `neg_image_negative_mask [M,K]` (each extra row's own text negatives), and `issues` (kind, location).

    `image_negatives`: None (default) passes on whatever image negatives the source puts in its samples; False
    drops them (the deprecated `AHNPLDataModule(image_negatives=False)`). `seed` and `per_epoch` seed augmentation
    and draws by (seed, epoch, index) (`per_epoch=False`: epoch 0 always, for validation).
    """

    def __init__(
        self,
        base: Dataset[dict[str, Any]],
        transform: Callable[[Image.Image], Tensor],
        tokenizer: Callable[[list[str]], Tensor],
        negative_types: Sequence[str] = NEGATIVE_TYPES,
        image_negatives: bool | None = None,
        pretokenize: bool | None = None,
        seed: int = 0,
        per_epoch: bool = True,
    ) -> None:
        self.base = base
        self.transform = transform
        self.tokenizer = tokenizer
        self.negative_types = tuple(negative_types)
        self.image_negatives = image_negatives
        self.seed = seed
        self.per_epoch = per_epoch
        self._blank: dict[str, Any] | None = None
        strings = len(self) * (1 + len(self.negative_types))
        if hasattr(base, "pretokenize") and (pretokenize or (pretokenize is None and strings <= PRETOKENIZE_LIMIT)):
            base.pretokenize(tokenizer, self.negative_types)

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def blank(self) -> dict[str, Any]:
        """A blank item: every tensor of a real item zeroed, every mask False, `index` -1 (what an unreadable
        sample becomes in a batch). Made once, from the first readable of a few samples spread over the dataset,
        else from a blank picture with the structure the base dataset declares (NegCLIP's rows, world renders)."""
        if self._blank is None:
            n = len(self)
            count = min(n, BLANK_PROBES)
            picks = sorted({round(i * (n - 1) / max(1, count - 1)) for i in range(count)})
            item = next((got for got in map(self.__getitem__, picks) if "skipped" not in got), None)
            if item is None:
                with seeded(0):
                    item = self._tensors(self._blank_sample(), -1)
            item.pop("issues", None)
            self._blank = _blank_like(item)
        return self._blank

    def _blank_sample(self) -> dict[str, Any]:
        """A source sample with a blank picture and no caption, with the image negatives the base dataset makes."""
        sample: dict[str, Any] = {"image": Image.new("RGB", (32, 32)), "caption": "", "negatives": {}}
        if getattr(self.base, "image_negatives", False) is True:  # the world renders counterfactual images
            sample["image_negatives"] = [None] * len(self.negative_types)
        count = getattr(self.base, "neg_image_count", None) if getattr(self.base, "neg_image_rows", None) else None
        if count is not None:  # NegCLIP's extra rows
            sample.update(neg_images=[None] * count, neg_image_captions=[None] * count,
                          neg_image_negatives=[None] * count)
        return sample

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, Any]:
        index, epoch = _key(key)
        seed = sample_seed(self.seed, epoch if self.per_epoch else 0, index)
        try:
            if hasattr(self.base, "item"):
                sample = self.base.item(index, random.Random(seed))
            else:
                sample = self.base[index]
        except Exception as exc:  # noqa: BLE001 - a bad sample is reported, never crashes the epoch
            return {"skipped": type(exc).__name__, "location": f"sample {index}: {exc}"}
        if "skipped" in sample:
            return sample
        caption = sample["caption"]
        if not isinstance(caption, str) or not caption.strip():
            return {"skipped": "empty_caption", "location": sample.get("location", f"sample {index}")}
        with seeded(seed):
            return self._tensors(sample, index)

    def _tensors(self, sample: dict[str, Any], index: int) -> dict[str, Any]:
        negatives = sample.get("negatives") or {}
        texts = [negatives.get(t) for t in self.negative_types]
        mask = _mask(texts)
        if "caption_tokens" in sample:
            caption_tokens, negative_tokens = sample["caption_tokens"], sample["negative_tokens"].clone()
        else:
            tokens = self.tokenizer([sample["caption"]] + [t if ok else "" for t, ok in zip(texts, mask.tolist())])
            caption_tokens, negative_tokens = tokens[0], tokens[1:]
        negative_tokens[~mask] = 0
        item: dict[str, Any] = {
            "images": self.transform(sample["image"]),
            "captions": caption_tokens,
            "negatives": negative_tokens,
            "negative_mask": mask,
            "index": torch.tensor(index),
        }
        wanted = self.image_negatives
        if wanted or (wanted is None and "image_negatives" in sample):
            item["image_negatives"], item["image_negative_mask"] = self._image_negatives(sample, item["images"])
        if "neg_images" in sample:
            self._neg_images(sample, item)
        if sample.get("issues"):
            item["issues"] = list(sample["issues"])
        return item

    def _image_negatives(self, sample: dict[str, Any], image: Tensor) -> tuple[Tensor, Tensor]:
        """[K,3,H,W] transformed counterfactual images (zeros where none) and which of them exist [K]."""
        count = len(self.negative_types)
        images = list(sample.get("image_negatives") or [])[:count]
        images += [None] * (count - len(images))
        valid = list(sample.get("image_negatives_valid") or [picture is not None for picture in images])[:count]
        valid += [False] * (count - len(valid))
        exists = torch.tensor([bool(ok) and picture is not None for picture, ok in zip(images, valid)],
                              dtype=torch.bool)
        out = torch.zeros((count, *image.shape), dtype=image.dtype)
        for k, picture in enumerate(images):
            if exists[k]:
                out[k] = self.transform(picture)
        return out, exists

    def _neg_images(self, sample: dict[str, Any], item: dict[str, Any]) -> None:
        """NegCLIP's extra rows: images, their captions' tokens, their own text negatives, and which exist."""
        pictures, captions = sample["neg_images"], sample["neg_image_captions"]
        row_negatives = sample.get("neg_image_negatives") or [None] * len(pictures)
        image, k = item["images"], len(self.negative_types)
        valid = torch.tensor([p is not None and isinstance(c, str) for p, c in zip(pictures, captions)],
                             dtype=torch.bool)
        texts = [[(negs or {}).get(t) if ok else None for t in self.negative_types]
                 for negs, ok in zip(row_negatives, valid.tolist())]
        negative_mask = torch.stack([_mask(row) for row in texts]) if texts else torch.zeros((0, k), dtype=torch.bool)
        out = torch.zeros((len(pictures), *image.shape), dtype=image.dtype)
        for m, picture in enumerate(pictures):
            if valid[m]:
                out[m] = self.transform(picture)
        if "neg_image_tokens" in sample:
            tokens = sample["neg_image_tokens"].clone()
        else:
            flat = [text for caption, ok, row in zip(captions, valid.tolist(), texts)
                    for text in [caption if ok else "", *(t if isinstance(t, str) else "" for t in row)]]
            tokens = self.tokenizer(flat).view(len(pictures), 1 + k, -1) if flat else torch.zeros(
                (0, 1 + k, 1), dtype=torch.long)
        caption_tokens, negative_tokens = tokens[:, 0], tokens[:, 1:]
        caption_tokens[~valid] = 0
        negative_tokens[~negative_mask] = 0
        item["neg_images"], item["neg_image_captions"], item["neg_image_mask"] = out, caption_tokens, valid
        item["neg_image_negatives"], item["neg_image_negative_mask"] = negative_tokens, negative_mask


def collate_triplets(samples: list[dict[str, Any]], blank: dict[str, Any] | None = None) -> dict[str, Any]:
    """Stack the samples, an unreadable one as a blank row in its place; `sample_mask` [B] says which rows hold a
    sample and `valid_samples` (an int) how many; the skip markers go to `skipped` and per-item issues to `issues`
    (kind, location).

    The blank row is a zeroed copy of a good sample of the batch, else `blank` (`TripletDataset.blank()`); a batch
    with neither (every sample unreadable, no `blank`) holds only `skipped`, `issues` and `valid_samples` = 0.
    """
    good = [s for s in samples if "skipped" not in s]
    skipped = [(s["skipped"], s["location"]) for s in samples if "skipped" in s]
    issues = [issue for sample in good for issue in sample.pop("issues", [])]
    batch: dict[str, Any] = {}
    template = good[0] if good else blank
    if template is not None:
        filler = blank if blank is not None and not good else _blank_like(template)
        rows = [filler if "skipped" in s else s for s in samples]
        batch = {key: torch.stack([row[key] for row in rows]) for key in template}
        batch["sample_mask"] = torch.tensor(["skipped" not in s for s in samples], dtype=torch.bool)
        # One text pass encodes captions and negatives together: cut them to the batch's longest real sequence
        # here, on the CPU, so the training step needs no host-device sync to do it (encoding.py).
        trim_token_columns(batch, ("captions", "negatives", "neg_image_captions", "neg_image_negatives"))
    batch["valid_samples"] = len(good)
    batch["skipped"] = skipped
    batch["issues"] = issues
    return batch


def _blank_like(item: dict[str, Any]) -> dict[str, Any]:
    """A blank row shaped like `item`: zeros, masks False, `index` -1."""
    return {key: torch.full_like(value, -1) if key == "index" else torch.zeros_like(value)
            for key, value in item.items()}
