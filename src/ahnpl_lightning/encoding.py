"""Feature extraction for open_clip models: one image pass, one text pass for captions + negatives, padding trimmed.

Trimming is exact for open_clip's standard text tower: attention is causal and pooling takes the EOT position, so
columns after the longest real sequence never influence the pooled output (proved in tests/test_encoding.py).
Finding that length on an accelerator would cost a host-device sync, so training batches are trimmed on the CPU by
the DataModule's collate (`trim_token_columns`) and `encode_text` trims only CPU tensors itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def real_length(tokens: Tensor, pad_id: int = 0) -> int:
    """Columns up to the last non-padding token of any row (at least 1) of a [..., L] token tensor."""
    used = (tokens != pad_id).reshape(-1, tokens.shape[-1]).any(dim=0)
    return int(used.nonzero().max()) + 1 if used.any() else 1


def trim_padding(tokens: Tensor, pad_id: int = 0) -> Tensor:
    """Cut the trailing columns that are padding in every row ([N, L] -> [N, L'])."""
    if tokens.numel() == 0:
        return tokens
    return tokens[..., : real_length(tokens, pad_id)]


def trim_token_columns(batch: dict[str, Tensor], keys: tuple[str, ...], pad_id: int = 0) -> None:
    """Trim the token tensors `keys` of a batch (in place) to one shared length: the longest real sequence."""
    present = [key for key in keys if key in batch and batch[key].numel()]
    if present:
        length = max(real_length(batch[key], pad_id) for key in present)
        for key in present:
            batch[key] = batch[key][..., :length]


def supports_dynamic_length(model: nn.Module) -> bool:
    """True for open_clip's built-in text tower (token_embedding + causal transformer + argmax/EOT pooling)."""
    return (
        hasattr(model, "token_embedding")
        and hasattr(model, "positional_embedding")
        and getattr(model, "text_pool_type", "argmax") in ("argmax", "eos")
        and getattr(model, "attn_mask", None) is not None
    )


def encode_text(model: nn.Module, tokens: Tensor, dynamic_length: bool = True) -> Tensor:
    """L2-normalised text features; with `dynamic_length`, run the tower only up to the longest real sequence.
    A frozen text tower runs without building an autograd graph."""
    text_params = [p for name, p in model.named_parameters() if not name.startswith(("visual.", "logit_"))]
    with torch.set_grad_enabled(torch.is_grad_enabled() and any(p.requires_grad for p in text_params)):
        return _encode_text(model, tokens, dynamic_length)


def _encode_text(model: nn.Module, tokens: Tensor, dynamic_length: bool) -> Tensor:
    if not (dynamic_length and supports_dynamic_length(model)):
        return F.normalize(model.encode_text(tokens), dim=-1)
    from open_clip.transformer import text_global_pool

    if tokens.device.type == "cpu":
        tokens = trim_padding(tokens)
    length = tokens.shape[1]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype)
    x = x + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=getattr(model, "text_eos_id", None))
    if model.text_projection is not None:
        x = model.text_projection(x) if isinstance(model.text_projection, nn.Linear) else x @ model.text_projection
    return F.normalize(x, dim=-1)


def encode_image(model: nn.Module, images: Tensor) -> Tensor:
    """L2-normalised image features (a frozen image tower runs without building an autograd graph)."""
    trainable = any(p.requires_grad for p in model.visual.parameters())
    with torch.set_grad_enabled(torch.is_grad_enabled() and trainable):
        return F.normalize(model.encode_image(images), dim=-1)


def encode_batch(
    model: nn.Module,
    images: Tensor,
    captions: Tensor,
    negatives: Tensor,
    image_negatives: Tensor | None = None,
    dynamic_length: bool = True,
) -> dict[str, Tensor]:
    """Encode B images once and the B x (1 + K) captions in one text pass.

    Returns image_features [B,D], text_features [B,D], negative_features [B,K,D] and, when given,
    image_negative_features [B,K,D] (from real image hard negatives [B,K,3,H,W]).
    """
    batch, k = negatives.shape[:2]
    texts = torch.cat([captions.unsqueeze(1), negatives], dim=1).flatten(0, 1)
    text_all = encode_text(model, texts, dynamic_length).view(batch, 1 + k, -1)
    if image_negatives is None:
        image_features = encode_image(model, images)
        image_negative_features = None
    else:
        stacked = torch.cat([images.unsqueeze(1), image_negatives], dim=1).flatten(0, 1)
        image_all = encode_image(model, stacked).view(batch, 1 + image_negatives.shape[1], -1)
        image_features, image_negative_features = image_all[:, 0], image_all[:, 1:]
    out = {"image_features": image_features, "text_features": text_all[:, 0], "negative_features": text_all[:, 1:]}
    if image_negative_features is not None:
        out["image_negative_features"] = image_negative_features
    return out
