"""The stand-in's pre-training recipe (benchmarks/pretrain.py) and the world's palette-restricted scenes it uses."""

from __future__ import annotations

import pytest
import torch

from ahnpl_lightning.data.world import World
from ahnpl_lightning.model import create_model_and_transforms
from benchmarks import pretrain


def test_palette_restricts_colours_and_leaves_the_default_stream_alone() -> None:
    world = World(seed=3)
    default = [world.scene(i) for i in range(20)]
    for i in range(50):
        scene = world.scene(i, palette=["red"])
        assert {o.colour for o in scene.objects} == {"red"}
        assert not world.is_heldout(scene)  # red circles stay held out of training
    assert [world.scene(i) for i in range(20)] == default
    assert world.scene(5, palette=["red", "blue"]) == world.scene(5, palette=["red", "blue"])
    with pytest.raises(ValueError, match="palette"):
        world.scene(0, palette=["mauve"])
    with pytest.raises(ValueError, match="palette"):
        world.scene(0, palette=[])


def test_batches_are_deterministic_and_match_the_models_preprocessing() -> None:
    bundle = create_model_and_transforms("AHNPL-RN-64")
    recipe = pretrain.Recipe(batch_size=6, palette_fraction=1.0, palette_sizes=(1,), groups=2)
    data = pretrain.WorldBatches(recipe, bundle.tokenizer, 64)
    images, tokens = data.batch(7)
    again, tokens_again = data.batch(7)
    assert images.shape == (6, 3, 64, 64) and tokens.shape == (6, 32)
    assert torch.equal(images, again) and torch.equal(tokens, tokens_again)
    image = data.world.render(data.world.scene(0))
    assert torch.allclose(data.to_tensor(image), bundle.preprocess_val(image), atol=1e-5)
    palettes, scenes, captions = data.scenes(7)  # palette_fraction 1, one colour per group of 3 scenes
    assert len(palettes) == 2 and all(p is not None and len(p) == 1 for p in palettes)
    for group, palette in enumerate(palettes):
        assert {o.colour for scene in scenes[3 * group: 3 * group + 3] for o in scene.objects} == set(palette)
    assert all(data.world.verify(c, s) for c, s in zip(captions, scenes))


def test_lr_schedule_warms_up_then_decays_to_zero() -> None:
    recipe = pretrain.Recipe(steps=100, warmup_steps=10, lr=1.0)
    assert pretrain.lr_at(0, recipe) == pytest.approx(0.1)
    assert pretrain.lr_at(9, recipe) == pytest.approx(1.0)
    assert pretrain.lr_at(100, recipe) == pytest.approx(0.0)


def test_a_few_steps_write_loadable_fp16_weights(tmp_path) -> None:
    recipe = pretrain.Recipe(steps=2, batch_size=4, warmup_steps=1)
    record = pretrain.pretrain(recipe, tmp_path / "w.pt")
    state = torch.load(tmp_path / "w.pt")
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    assert record["parameters"] > 0 and record["recipe"]["steps"] == 2
    model = create_model_and_transforms("AHNPL-RN-64", pretrained=str(tmp_path / "w.pt")).model
    assert torch.allclose(model.logit_scale.detach().half(), state["logit_scale"])
