"""NegCLIP as its own code trains it (vinid/neg_clip `src/training/data.py` and `train.py`).

Per sample, NegCLIP draws one of the row's hard captions and one of its `neg_image` rows at random; the drawn row
enters the batch as an extra (image, caption) pair with its own drawn hard caption, and the loss is CLIP's over
images [B + B'] and texts [captions; extra captions; hard captions; extra hard captions], image->text over all of
them and text->image over the captions. Here the draws are seeded per (seed, epoch, index).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ahnpl_lightning.data.datamodule import AHNPLDataModule
from ahnpl_lightning.data.sources import NegCLIPSource
from ahnpl_lightning.losses import AHNPLLoss
from ahnpl_lightning.module import AHNPLModule
from tests._data_fixtures import CAPTIONS, make_image

ROWS = 12


def negclip_tsv(root: Path, rows: int = ROWS) -> Path:
    """A NegCLIP-style TSV whose rows all have 2-3 hard captions and 3 in-range `neg_image` rows, images present."""
    rng = random.Random(0)
    lines = ["\ttitle\tfilepath\tneg_caption\tneg_image"]
    for k in range(rows):
        caption = f"{CAPTIONS[k % len(CAPTIONS)]} number {k}"
        hard = [f"hard caption {j} of row {k}" for j in range(2 + k % 2)]
        others = rng.sample([i for i in range(rows) if i != k], 3)
        lines.append(f"{k}\t{caption}\timages/{k}.png\t{hard!r}\t{others!r}")
        make_image(root / "images" / f"{k}.png", k)
    path = root / "train_neg_clip.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _data(root: Path, **kwargs: Any) -> AHNPLDataModule:
    source = NegCLIPSource(str(negclip_tsv(root)), str(root), negatives="source", image_negatives=1, **kwargs)
    data = AHNPLDataModule(source, batch_size=4, num_workers=0, seed=7)
    data.setup("fit")
    return data


def test_extra_rows_carry_their_own_drawn_hard_caption(tmp_path: Path) -> None:
    data = _data(tmp_path)
    assert data.train_set is not None
    records = data.source._records(data.source.annotations)
    tokenizer = data.train_set.tokenizer
    for index in range(ROWS):
        item = data.train_set[(index, 0)]
        assert item["neg_image_mask"].tolist() == [True]
        # the extra row is one of this row's neg_image rows, with that row's caption ...
        caption = item["neg_image_captions"][0]
        row = next(r for r in records if torch.equal(tokenizer([r.caption])[0], caption))
        assert int(row.caption_id) in records[index].neg_image
        # ... and one of that row's own hard captions as its relation negative (the other types are empty)
        assert item["neg_image_negative_mask"][0].tolist() == [True, False, False, False, False]
        hard = item["neg_image_negatives"][0, 0]
        assert any(torch.equal(tokenizer([h])[0], hard) for h in row.neg_captions)
        # the sample's own hard caption is one of its row's
        assert any(torch.equal(tokenizer([h])[0], item["negatives"][0]) for h in records[index].neg_captions)


def test_draws_are_random_per_epoch_reproducible_and_first_on_request(tmp_path: Path) -> None:
    data = _data(tmp_path)
    again = _data(tmp_path / "again")  # another DataModule, same seed: the same draws
    assert data.train_set is not None and again.train_set is not None

    def draws(dataset: Any, epoch: int) -> list[tuple[list[int], list[int]]]:
        out = []
        for index in range(ROWS):
            item = dataset[(index, epoch)]
            out.append((item["negatives"][0].tolist(), item["neg_image_captions"][0].tolist()))
        return out

    epoch0 = draws(data.train_set, 0)
    assert epoch0 == draws(data.train_set, 0) == draws(again.train_set, 0)
    epochs = [draws(data.train_set, e) for e in range(1, 4)]
    assert all(e != epoch0 for e in epochs)  # a new draw each epoch
    hard_choices = {tuple(d[i][0]) for d in [epoch0, *epochs] for i in range(ROWS)}
    assert len(hard_choices) > ROWS  # rows use more than one of their hard captions over epochs
    first = _data(tmp_path / "first", negative_draw="first")
    assert first.train_set is not None
    assert draws(first.train_set, 0) == draws(first.train_set, 3)  # `first`: no draw
    tokenizer = first.train_set.tokenizer
    records = first.source._records(first.source.annotations)
    assert all(torch.equal(first.train_set[(i, 2)]["negatives"][0], tokenizer([records[i].neg_captions[0]])[0])
               for i in range(ROWS))


def negclip_reference_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor], scale: torch.Tensor) -> torch.Tensor:
    """NegCLIP's training loss (train.py + ClipLoss), computed from the batch tensors with the model directly."""
    valid = batch["neg_image_mask"][:, 0]
    images = torch.cat([batch["images"], batch["neg_images"][valid, 0]])
    texts = torch.cat([batch["captions"], batch["neg_image_captions"][valid, 0],
                       batch["negatives"][:, 0], batch["neg_image_negatives"][valid, 0, 0]])
    texts = F.pad(texts, (0, model.positional_embedding.shape[0] - texts.shape[1]))  # the collate trims columns
    image_features = F.normalize(model.encode_image(images), dim=-1)
    text_features = F.normalize(model.encode_text(texts), dim=-1)
    logits_per_image = scale * image_features @ text_features.T
    logits_per_text = scale * text_features @ image_features.T
    labels = torch.arange(len(images))
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_text[: len(images)], labels)) / 2


def test_negclip_loss_equals_negclips_own_on_the_same_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    data = _data(tmp_path)
    batch = data.on_before_batch_transfer(next(iter(data.train_dataloader())), 0)
    assert batch["neg_image_mask"].all() and batch["neg_image_negative_mask"][:, :, 0].all()
    loss = AHNPLLoss(itc_negatives=True, mhn_weight=0.0, margin_weight=0.0, positive_weight=0.0)
    module = AHNPLModule(loss=loss).eval()
    scale = module.model.logit_scale.exp()
    with torch.no_grad():
        ours = module.loss(logit_scale=scale, **module(batch))["loss"]
        reference = negclip_reference_loss(module.model, batch, scale)
        # what this library computed before: the extra rows without their hard captions (a different loss)
        stripped = dict(batch)
        for key in ("neg_image_negatives", "neg_image_negative_mask"):
            stripped.pop(key)
        before = module.loss(logit_scale=scale, **module(stripped))["loss"]
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    assert abs(float(before) - float(reference)) > 1e-3
