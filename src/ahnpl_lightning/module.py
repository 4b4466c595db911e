"""AHNPLModule: any open_clip model trained with `AHNPLLoss`. The science lives in `losses/`; this is glue."""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Mapping
from typing import Any, Literal

import torch
from lightning.pytorch import Callback, LightningModule
from torch import Tensor, nn
from typing_extensions import override

from ahnpl_lightning.data.health import DataHealthCheck
from ahnpl_lightning.encoding import encode_batch
from ahnpl_lightning.finite_guard import FEATURE_KEYS, FiniteGuard
from ahnpl_lightning.losses import TERMS, AHNPLLoss
from ahnpl_lightning.losses.rows import row_mean
from ahnpl_lightning.model import TINY_MODEL, create_model_and_transforms

MAX_LOGIT_SCALE = 100.0


def _no_weight_decay(name: str, param: Tensor) -> bool:
    """Gains, biases and the logit scale are not decayed (open_clip's rule, docs/METHOD.md §3)."""
    return param.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """LR multiplier: linear warm-up to 1, then cosine decay to 0 at `total_steps`."""
    if step < warmup_steps:
        return (step + 1) / max(1, warmup_steps)
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def class_path(cls: type) -> str:
    """The shortest import path of a class: `ahnpl_lightning.losses.AHNPLLoss`, not `...losses.ahnpl.AHNPLLoss`."""
    parts = cls.__module__.split(".")
    for end in range(1, len(parts) + 1):
        module = importlib.import_module(".".join(parts[:end]))
        if getattr(module, cls.__qualname__, None) is cls:
            return f"{module.__name__}.{cls.__qualname__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def loss_config(loss: AHNPLLoss) -> dict[str, Any]:
    """The class path and constructor arguments of a loss, so a checkpoint rebuilds it exactly."""
    return {"class_path": class_path(type(loss)), "init_args": dict(loss.init_args)}


def build_loss(config: Mapping[str, Any]) -> AHNPLLoss:
    """Rebuild a loss from `loss_config`'s output: its saved class (a subclass too) with its saved arguments."""
    path = config.get("class_path") or class_path(AHNPLLoss)
    module_name, _, name = str(path).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"the checkpoint's loss class {path!r} cannot be imported ({exc}); make it importable (install or put "
            "its module on PYTHONPATH) or pass `loss=` explicitly"
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, AHNPLLoss)):
        raise ValueError(f"the checkpoint's loss class {path!r} is not an AHNPLLoss subclass")
    return cls(**config.get("init_args", {}))


def _distributed() -> bool:
    """Whether this process is one of several ranks (then every rank must take part in every step)."""
    dist = torch.distributed
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _samples(batch: Mapping[str, Any]) -> int:
    """The real samples of a batch, a host number (padding rows excluded; no device sync)."""
    count = batch.get("valid_samples")
    return int(count) if isinstance(count, int) else int(batch["images"].shape[0])


def _negative_image_rows(batch: Mapping[str, Tensor], sample_mask: Tensor | None) -> dict[str, Tensor]:
    """NegCLIP's hard-negative images as extra batch rows: `images`, `captions`, their validity `sample_mask` and,
    when the batch has them, each row's own text negatives (`negatives`, `negative_mask`), from `neg_*` tensors
    [B,M,...] with `neg_image_mask`.

    All B*M rows are kept and the missing ones marked invalid (the loss ignores them): every rank adds the same
    number of rows without a collective, and no boolean indexing syncs the host with the device.
    """
    valid = batch["neg_image_mask"]
    if sample_mask is not None:  # a padding row has no image negatives
        valid = valid & sample_mask[:, None]
    valid = valid.flatten()
    extra = {"images": batch["neg_images"].flatten(0, 1), "captions": batch["neg_image_captions"].flatten(0, 1),
             "sample_mask": valid}
    if "neg_image_negatives" in batch:
        extra["negatives"] = batch["neg_image_negatives"].flatten(0, 1)
        extra["negative_mask"] = batch["neg_image_negative_mask"].flatten(0, 1) & valid[:, None]
    return extra


def _pad_rows(x: Tensor, rows: int) -> Tensor:
    """Append `rows` zero (False) rows: extra batch rows have no image negatives of their own (masked out)."""
    return torch.cat([x, x.new_zeros((rows, *x.shape[1:]))])


class AHNPLModule(LightningModule):
    """Fine-tune an open_clip model with AHNPL (or a baseline: the loss configuration decides).

    Batches are dicts from `AHNPLDataModule`: `images [B,3,H,W]`, `captions [B,L]`, `negatives [B,K,L]`,
    `negative_mask [B,K]` and optionally `image_negatives [B,K,3,H,W]` (real counterfactual images aligned with the
    K text negatives) or NegCLIP's `neg_images [B,M,3,H,W]`, `neg_image_captions [B,M,L]`, `neg_image_mask [B,M]`,
    and `sample_mask [B]` with `valid_samples` (an int): rows False in `sample_mask` are padding for unreadable
    samples, which the loss and the metrics ignore. Under DDP every rank runs every step on equally sized batches,
    a rank whose samples were all unreadable too (its gradient is zero; the step is the other ranks'), so no rank
    waits on another; alone, a batch without any sample is skipped (no optimizer step).

    Args:
        model_name: any open_clip model name (`ViT-B-32-quickgelu`, `local-dir:FOLDER`, ...) or `AHNPL-Tiny-64`.
        pretrained: None, a local weights file, or an open_clip tag (offline, a tag that needs a download fails fast).
        loss: the loss; its configuration selects AHNPL (corrected or released) or a baseline. Default: AHNPLLoss().
        lr: AdamW learning rate (paper: 2e-5 for ViT-B/32).
        betas: AdamW betas (paper: 0.9, 0.98).
        eps: AdamW epsilon (paper: 1e-6).
        weight_decay: AdamW weight decay, not applied to gains, biases and the logit scale (paper: 0.1).
        warmup_steps: linear warm-up steps before the cosine decay (paper: 50).
        lr_schedule: `cosine` (with warm-up, per step) or `constant`.
        reset_margin_each_epoch: reset the adaptive margin state at each epoch start (as the released code does).
        use_image_negatives: deprecated: image negatives are switched on the data source (`WorldSource.image_negatives`,
            `NegCLIPSource.image_negatives`) and used whenever the batch has them; False still drops them.
        dynamic_text_length: encode text only up to the longest real token sequence (exact, faster).
        check_finite_every_n_steps: check every loss term for NaN/inf every N steps (0: never).
        check_finite_lagged: read that check one step late, without a host-device sync (default: on accelerators);
            pending checks are read before validation, before a checkpoint is written and at the end of training.
        freeze_image_tower: lock the image tower (no gradients, no autograd graph).
        freeze_text_tower: lock the text tower.
        grad_checkpointing: activation checkpointing in both towers (memory for compute, for large towers).
        compile_encoders: `torch.compile` the image and text towers.
        channels_last: channels-last memory format for convolutional image towers.
    """

    def __init__(
        self,
        model_name: str = TINY_MODEL,
        pretrained: str | None = None,
        loss: AHNPLLoss | None = None,
        lr: float = 2e-5,
        betas: tuple[float, float] = (0.9, 0.98),
        eps: float = 1e-6,
        weight_decay: float = 0.1,
        warmup_steps: int = 50,
        lr_schedule: Literal["cosine", "constant"] = "cosine",
        reset_margin_each_epoch: bool = True,
        use_image_negatives: bool | None = None,
        dynamic_text_length: bool = True,
        check_finite_every_n_steps: int = 1,
        check_finite_lagged: bool | None = None,
        freeze_image_tower: bool = False,
        freeze_text_tower: bool = False,
        grad_checkpointing: bool = False,
        compile_encoders: bool = False,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        if use_image_negatives is not None:
            warnings.warn("AHNPLModule(use_image_negatives=...) is deprecated and will be removed in the next release: "
                          "image negatives are switched on the data source (WorldSource.image_negatives, "
                          "NegCLIPSource.image_negatives) and used whenever a batch has them", DeprecationWarning,
                          stacklevel=2)
        if isinstance(loss, Mapping):  # rebuilt from a checkpoint's hyper-parameters: honour its class path
            loss = build_loss(loss)
        self.loss = loss if loss is not None else AHNPLLoss()
        self.finite_guard = FiniteGuard(terms=TERMS)
        self.save_hyperparameters(ignore=["loss"])
        self.hparams["loss"] = loss_config(self.loss)
        bundle = create_model_and_transforms(model_name, pretrained)
        self.model = bundle.model
        self.preprocess_train = bundle.preprocess_train
        self.preprocess_val = bundle.preprocess_val
        self.tokenizer = bundle.tokenizer
        if freeze_image_tower:
            self.model.lock_image_tower(unlocked_groups=0, freeze_bn_stats=True)
        if freeze_text_tower:
            self.model.lock_text_tower(unlocked_layers=0, freeze_layer_norm=True)
        if grad_checkpointing:
            self.model.set_grad_checkpointing(True)
        if channels_last:
            self.model.visual.to(memory_format=torch.channels_last)
        if compile_encoders:
            self.model.visual = torch.compile(self.model.visual)
            if hasattr(self.model, "transformer"):
                self.model.transformer = torch.compile(self.model.transformer)

    @override
    def forward(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Normalised features for a batch (see `encoding.encode_batch`), with NegCLIP's hard-negative images
        appended as extra (image, caption) pairs when the batch has them. A training loss that reads no negatives
        (plain CLIP fine-tuning) does not pay for encoding them: they come back as zeros, masked out. `sample_mask`
        (the batch's, extended over the extra rows) says which rows hold samples."""
        images, captions, negatives = batch["images"], batch["captions"], batch["negatives"]
        mask = batch["negative_mask"]
        rows = batch.get("sample_mask")
        use_images = self.hparams.use_image_negatives is not False
        image_negatives = batch.get("image_negatives") if use_images else None
        image_mask = batch.get("image_negative_mask") if image_negatives is not None else None
        skip_negatives = self.training and not self.loss.uses_negatives
        if skip_negatives:
            k = negatives.shape[1]
            negatives, mask, image_negatives, image_mask = negatives[:, :0], mask[:, :0], None, None
        if use_images and "neg_images" in batch:
            extra = _negative_image_rows(batch, rows)
            added = extra["images"].shape[0]
            if rows is None:
                rows = torch.ones(images.shape[0], dtype=torch.bool, device=images.device)
            rows = torch.cat([rows, extra["sample_mask"]])
            images, captions = torch.cat([images, extra["images"]]), torch.cat([captions, extra["captions"]])
            if "negatives" in extra and not skip_negatives:  # each extra row brings its own hard captions
                negatives = torch.cat([negatives, extra["negatives"].to(negatives.dtype)])
                mask = torch.cat([mask, extra["negative_mask"]])
            else:
                negatives, mask = _pad_rows(negatives, added), _pad_rows(mask, added)
            image_negatives, image_mask = (
                _pad_rows(x, added) if x is not None else None for x in (image_negatives, image_mask)
            )
        features = encode_batch(
            self.model, images, captions, negatives, image_negatives=image_negatives,
            dynamic_length=self.hparams.dynamic_text_length,
        )
        if skip_negatives:
            text = features["text_features"]
            features["negative_features"] = text.new_zeros((text.shape[0], k, text.shape[1]))
            mask = mask.new_zeros((text.shape[0], k))
        features["negative_mask"] = mask
        if image_mask is not None and "image_negative_features" in features:
            features["image_negative_mask"] = image_mask  # which image negatives exist; the text mask is untouched
        if rows is not None:
            features["sample_mask"] = rows
        return features

    @override
    def configure_callbacks(self) -> list[Callback]:
        """`DataHealthCheck`: a fit that skipped most of its data or completed no optimizer step fails."""
        return [DataHealthCheck()]

    def _step(self, batch: Mapping[str, Tensor], stage: str) -> Tensor | None:
        distributed = _distributed()
        if "images" not in batch:  # every sample unreadable and no blank row to pad with (a hand-made loader)
            if distributed:
                raise RuntimeError(
                    "a batch without any sample reached the step on this rank; under DDP every rank must take part "
                    "in every step, or the others wait forever. Build batches with AHNPLDataModule (it pads "
                    "unreadable samples with blank rows marked in `sample_mask`) or with "
                    "collate_triplets(samples, blank=dataset.blank())")
            return None
        batch_size = _samples(batch)
        if batch_size == 0 and not distributed:  # nothing to learn from and nobody waiting: no optimizer step
            return None
        features = self(batch)
        logit_scale = self.model.logit_scale.exp()
        terms = self.loss(logit_scale=logit_scale, **features)
        every = self.hparams.check_finite_every_n_steps
        if stage == "train" and every > 0 and self.global_step % every == 0:
            self._check_finite(terms, features, logit_scale)
        on_step = stage == "train"
        for name, value in terms.items():
            self.log(f"{stage}/{name}", value.detach() if name != "loss" else value, on_step=on_step,
                     on_epoch=not on_step, batch_size=batch_size, sync_dist=not on_step)
        self.log(f"{stage}/logit_scale", logit_scale.detach(), on_step=on_step, on_epoch=not on_step,
                 batch_size=batch_size, sync_dist=not on_step)
        skipped = getattr(self.trainer.datamodule, "skipped", None) if self._trainer is not None else None
        # One rank's counts are not the run's: under DDP, `DataHealthCheck` logs the sums over ranks at epoch ends.
        for kind, count in ({} if distributed else skipped or {}).items():
            self.log(f"data/skipped_{kind}", float(count), on_step=on_step, on_epoch=not on_step, reduce_fx="max")
        if stage != "train":
            self._log_accuracy(features, features["negative_mask"], stage, batch_size)
        return terms["loss"]

    def _check_finite(self, terms: dict[str, Tensor], features: Mapping[str, Tensor], logit_scale: Tensor) -> None:
        """Raise on a NaN/inf loss term, naming the term that went bad, the step, s and the learning rate.

        Immediate on the CPU. Lagged by default on accelerators (`check_finite_lagged`): the finiteness flags are
        copied to the host without blocking and read at the next check, so the training step has no host-device
        sync; the pending check is flushed before validation, before a checkpoint is written and at the end of
        training, so a NaN at the last step raises too and non-finite weights never reach a checkpoint.
        """
        lagged = self.hparams.check_finite_lagged
        if lagged is None:
            lagged = terms["loss"].device.type != "cpu"
        values = {name: terms[name] for name in TERMS if name in terms}
        values.update({name: features[name] for name in FEATURE_KEYS if features.get(name) is not None})
        values["logit_scale"] = logit_scale
        values["loss"] = terms["loss"]
        self.finite_guard.check(values, self.global_step, self.current_epoch, logit_scale, self._current_lr(), lagged)

    def _current_lr(self) -> float | None:
        """The learning rate of the first parameter group at this step (None outside a fit)."""
        if self._trainer is None or not self.trainer.optimizers:
            return None
        return float(self.trainer.optimizers[0].param_groups[0]["lr"])

    def _log_accuracy(self, features: dict[str, Tensor], mask: Tensor, stage: str, batch_size: int) -> None:
        """In-batch image->caption accuracy and the share of valid hard negatives the true caption beats."""
        image, text, negative = features["image_features"], features["text_features"], features["negative_features"]
        rows = features.get("sample_mask")
        positive = (image * text).sum(-1)
        similarity = image @ text.T
        if rows is not None:  # padding rows are neither queries nor candidates
            similarity = similarity.masked_fill(~rows[None, :], float("-inf"))
            mask = mask & rows[:, None]
        i2t = (similarity.argmax(dim=1) == torch.arange(image.shape[0], device=image.device)).float()
        beats = (positive.unsqueeze(1) > torch.einsum("bd,bkd->bk", image, negative)) & mask
        hn_acc = beats.sum() / mask.sum().clamp_min(1)
        acc_i2t = i2t.mean() if rows is None else row_mean(i2t, rows)
        self.log(f"{stage}/acc_i2t", acc_i2t, batch_size=batch_size, sync_dist=True)
        self.log(f"{stage}/acc_hard_negative", hn_acc, batch_size=batch_size, sync_dist=True)

    @override
    def training_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor | None:
        return self._step(batch, "train")

    @override
    def validation_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor | None:
        return self._step(batch, "val")

    @override
    def test_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> Tensor | None:
        return self._step(batch, "test")

    @override
    def predict_step(self, batch: Mapping[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self(batch)

    @override
    def on_validation_start(self) -> None:
        self.finite_guard.flush()  # a lagged NaN check of the last training step, before evaluating those weights

    @override
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.finite_guard.flush()  # raise before non-finite weights are written

    @override
    def on_train_end(self) -> None:
        self.finite_guard.flush()  # a NaN at the last step raises too

    @override
    def on_train_epoch_start(self) -> None:
        if self.hparams.reset_margin_each_epoch:
            self.loss.reset_state()

    @override
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        # Clamp s = exp(logit_scale) to at most 100, in place after the update, as open_clip's trainer does.
        with torch.no_grad():
            self.model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))

    @override
    def configure_optimizers(self) -> Any:
        decay, no_decay = [], []
        for name, param in self.named_parameters():
            if param.requires_grad:
                (no_decay if _no_weight_decay(name, param) else decay).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": self.hparams.weight_decay}],
            lr=self.hparams.lr,
            betas=tuple(self.hparams.betas),
            eps=self.hparams.eps,
        )
        if self.hparams.lr_schedule == "constant":
            return optimizer
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = self.hparams.warmup_steps
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: warmup_cosine(step, warmup, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def open_clip_state_dict(self) -> dict[str, Tensor]:
        """The fine-tuned weights as a plain open_clip state dict (what `ahnpl export` writes)."""
        model: nn.Module = self.model
        return {k.replace("_orig_mod.", ""): v.detach().cpu() for k, v in model.state_dict().items()}
