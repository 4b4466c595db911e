"""Encoders: turn images and captions into embeddings. `ModelEncoder` wraps an open_clip model (images through a
DataLoader, never raising on a bad file: each image reports an `ImageStatus`); tests plug in their own `Encoder`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import torch
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ahnpl_lightning.images import ImageProblem
from ahnpl_lightning.images import load_image as _load_image
from ahnpl_lightning.encoding import encode_text, trim_padding
from ahnpl_lightning.evaluation.distributed import rank
from ahnpl_lightning.evaluation.items import ImageRef, ImageStatus


class Encoder(Protocol):
    """Turns images and captions into (unnormalised) embeddings; images also report an `ImageStatus` each."""

    def encode_images(self, refs: Sequence[ImageRef]) -> tuple[Tensor, Tensor]:
        """Return features [N, D] (rows of unusable images arbitrary, D may be 0 if none loads) and status [N]."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """Return features [N, D]."""
        ...


def load_image(ref: ImageRef) -> tuple[Image.Image | None, ImageStatus]:
    """`ahnpl_lightning.images.load_image` (the one loader training uses too) as an (image, `ImageStatus`) pair:
    a missing file is MISSING, a file that does not decode (or an empty crop) is CORRUPT (reported as unreadable)."""
    image = _load_image(ref.path, ref.bbox)
    if isinstance(image, ImageProblem):
        return None, ImageStatus.CORRUPT if image.kind == "unreadable_image" else ImageStatus.MISSING
    return image, ImageStatus.OK


class _ImageDataset(Dataset):
    """Loads and preprocesses images by index; a failure yields (index, None, status) instead of raising."""

    def __init__(self, refs: Sequence[ImageRef], preprocess: Callable[[Image.Image], Tensor]) -> None:
        self.refs = list(refs)
        self.preprocess = preprocess

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index: int) -> tuple[int, Tensor | None, int]:
        img, status = load_image(self.refs[index])
        if img is None:
            return index, None, int(status)
        try:
            return index, self.preprocess(img), int(ImageStatus.OK)
        except Exception:  # noqa: BLE001 - e.g. an empty crop the transform cannot resize
            return index, None, int(ImageStatus.CORRUPT)


def _collate(batch: list[tuple[int, Tensor | None, int]]) -> tuple[Tensor, Tensor | None, Tensor]:
    ok = [(i, t) for i, t, s in batch if t is not None]
    indices = torch.tensor([i for i, _ in ok], dtype=torch.long)
    images = torch.stack([t for _, t in ok]) if ok else None
    status = torch.tensor([[i, s] for i, _, s in batch], dtype=torch.long)
    return indices, images, status


class ModelEncoder:
    """Batched encoding with an open_clip model, its val preprocess and tokenizer (images via a DataLoader)."""

    def __init__(
        self,
        model: nn.Module,
        preprocess: Callable[[Image.Image], Tensor],
        tokenizer: Callable[[list[str]], Tensor],
        device: str | torch.device | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        progress: bool = True,
    ) -> None:
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = torch.device(device) if device is not None else _model_device(model)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.progress = progress and rank() == 0

    @torch.no_grad()
    def encode_images(self, refs: Sequence[ImageRef]) -> tuple[Tensor, Tensor]:
        """Encode images batch by batch; unusable ones keep a zero row and their status."""
        status = torch.full((len(refs),), int(ImageStatus.OK), dtype=torch.long)
        rows: list[tuple[Tensor, Tensor]] = []
        loader = DataLoader(
            _ImageDataset(refs, self.preprocess),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            collate_fn=_collate,
        )
        for indices, images, batch_status in tqdm(loader, desc="encode images", disable=not self.progress):
            status[batch_status[:, 0]] = batch_status[:, 1]
            if images is not None:
                feats = self.model.encode_image(images.to(self.device, dtype=self._dtype(), non_blocking=True))
                rows.append((indices, feats.float().cpu()))
        dim = rows[0][1].shape[1] if rows else 0
        features = torch.zeros(len(refs), dim)
        for indices, feats in rows:
            features[indices] = feats
        return features, status

    def _dtype(self) -> torch.dtype:
        """Floating dtype of the model's weights (images are cast to it, e.g. for bf16-true training)."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch.float32)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> Tensor:
        """Tokenise and encode captions in batches with training's text encoder (`encoding.encode_text`): each batch
        is cut to its longest real sequence on the CPU before it moves to the device (no host-device sync)."""
        chunks = [list(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        feats = [
            encode_text(self.model, trim_padding(self.tokenizer(chunk)).to(self.device)).float().cpu()
            for chunk in tqdm(chunks, desc="encode captions", disable=not self.progress)
        ]
        return torch.cat(feats) if feats else torch.zeros(0, 0)


def _model_device(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put a model in eval mode for the duration, then restore its training flag (the callback runs inside fit)."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@contextmanager
def encoding(
    model: nn.Module | None,
    preprocess: Callable[[Image.Image], Tensor] | None,
    tokenizer: Callable[[list[str]], Tensor] | None,
    encoder: Encoder | None = None,
    device: str | torch.device | None = None,
    batch_size: int = 64,
    num_workers: int = 0,
    progress: bool = True,
) -> Iterator[Encoder]:
    """The encoder a benchmark uses (`encoder` if given, else a `ModelEncoder`), with the model in eval mode."""
    if encoder is None:
        if model is None or preprocess is None or tokenizer is None:
            raise ValueError("pass either an `encoder` or a `model`, `preprocess` and `tokenizer`")
        encoder = ModelEncoder(model, preprocess, tokenizer, device, batch_size, num_workers, progress)
    if model is None:
        yield encoder
        return
    with eval_mode(model):
        yield encoder
