"""Model FLOPs of a CLIP training step, counted analytically from the towers' shapes (for model FLOPs utilisation).

Per sequence of n tokens through a transformer tower (open_clip's `ResidualAttentionBlock`s):

    F(n) = sum over blocks [ 2 n W_b + 4 n^2 d ]  (+ the tower's embedding and projection matmuls)

where W_b is the block's matrix weights (attention in/out projections and MLP: 12 d^2 for an MLP ratio of 4) and the
4 n^2 d term is the attention scores and the weighted sum, counted dense (the text tower's causal mask is not
discounted, as the kernels compute it dense). The image tower adds its patch embedding 2 N_p |conv1| and the pooled
token's projection 2 |proj|, the text tower its projection 2 |text_projection| per caption. A training step costs
3 x forward (backward = 2 x forward); layer norms, activations, softmax and the loss (O(B^2 D)) are not counted.
AHNPL / NegCLIP encode B images and B (1 + K) captions of the batch's trimmed length L; CLIP fine-tuning B captions.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

FORMULA = (
    "model FLOPs/step = 3 x [B F_img + T F_txt(L)], F(n) = sum_blocks(2 n W_b + 4 n^2 d) + embedding/projection "
    "matmuls (2 N_p |conv1| + 2 |proj| per image, 2 |text_projection| per caption); W_b = a block's matrix weights; "
    "T = B (1 + K) captions (B for CLIP fine-tuning), L = the batch's trimmed token length; attention dense; "
    "norms, activations and the loss not counted; backward = 2 x forward"
)


@dataclass(frozen=True)
class TowerShape:
    """What the count needs from one transformer tower: per-block matrix weights and attention width."""

    block_weights: tuple[int, ...]  # W_b per block (multiply-accumulates per token)
    attention_width: tuple[int, ...]  # d per block


def _block_shapes(blocks: nn.Module) -> TowerShape:
    weights, widths = [], []
    for block in blocks:
        total = 0
        for module in block.modules():
            if isinstance(module, nn.Linear):
                total += module.in_features * module.out_features
            elif isinstance(module, nn.MultiheadAttention):
                if module.in_proj_weight is None:  # separate q/k/v weights
                    total += sum(p.numel() for p in (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight))
                else:
                    total += module.in_proj_weight.numel()
        attention = next((m for m in block.modules() if isinstance(m, nn.MultiheadAttention)), None)
        if attention is None:
            raise NotImplementedError(f"no nn.MultiheadAttention in {type(block).__name__}: cannot count its FLOPs")
        weights.append(total)
        widths.append(attention.embed_dim)
    return TowerShape(tuple(weights), tuple(widths))


def _tower_flops(shape: TowerShape, n: int, attention: bool = True) -> int:
    core = 4 * n * n if attention else 0
    return sum(2 * n * w + core * d for w, d in zip(shape.block_weights, shape.attention_width))


def _unwrap(module: nn.Module) -> nn.Module:
    """The module behind `torch.compile` (an OptimizedModule keeps it as `_orig_mod`)."""
    return getattr(module, "_orig_mod", module)


def image_flops(model: nn.Module, attention: bool = True) -> int:
    """Forward FLOPs of one image through an open_clip `VisionTransformer` (at its configured image size);
    `attention=False` leaves out the attention core (scores and weighted sum)."""
    visual = _unwrap(model.visual)
    if not hasattr(visual, "conv1") or not hasattr(visual, "transformer"):
        raise NotImplementedError(f"{type(visual).__name__}: only open_clip ViT image towers are counted")
    tokens = visual.positional_embedding.shape[0]  # patches + class token
    patches = tokens - (1 if getattr(visual, "class_embedding", None) is not None else 0)
    flops = 2 * patches * visual.conv1.weight.numel()
    flops += _tower_flops(_block_shapes(_unwrap(visual.transformer).resblocks), tokens, attention)
    if getattr(visual, "proj", None) is not None:
        flops += 2 * visual.proj.numel()
    return flops


def text_flops(model: nn.Module, length: int, attention: bool = True) -> int:
    """Forward FLOPs of one caption of `length` tokens through open_clip's text tower (see `image_flops`)."""
    flops = _tower_flops(_block_shapes(_unwrap(model.transformer).resblocks), length, attention)
    projection = getattr(model, "text_projection", None)
    if isinstance(projection, nn.Linear):
        flops += 2 * projection.in_features * projection.out_features
    elif projection is not None:
        flops += 2 * projection.numel()
    return flops


def step_flops(model: nn.Module, images: int, captions: int, text_length: int, backward: bool = True) -> int:
    """Model FLOPs of one step that encodes `images` images and `captions` captions of `text_length` tokens."""
    forward = images * image_flops(model) + captions * text_flops(model, text_length)
    return 3 * forward if backward else forward
