"""Evaluation's own copies are gone: ARO's order perturbations live in `evaluation.perturbations` (same draws as the
old `data.negatives` function, seeded by `ahnpl eval --seed`), and text features come from training's encoder."""

from __future__ import annotations

import json

import pytest
import torch
from _eval_helpers import build_coco

from ahnpl_lightning.encoding import encode_text
from ahnpl_lightning.evaluation.benchmarks import aro
from ahnpl_lightning.evaluation.encoders import ModelEncoder
from ahnpl_lightning.evaluation.perturbations import ORDER_PERTURBATIONS, order_perturbations, pre_caption
from ahnpl_lightning.model import create_model_and_transforms

CAPTIONS = ["A man riding a red bike down the street.", "two small dogs (on a green couch)", "a cat",
            "Several people are standing next to a large white bus while a woman holds an umbrella."]


@pytest.mark.parametrize("tagger", ["builtin", "auto"])
def test_order_perturbations_are_deterministic_and_the_old_path_is_an_alias(tagger):
    from ahnpl_lightning.data import negatives

    for seed in (0, 1, 17):
        for caption in CAPTIONS:
            assert order_perturbations(caption, seed, tagger) == order_perturbations(caption, seed, tagger)
    assert len(order_perturbations(CAPTIONS[0], 0)) == len(ORDER_PERTURBATIONS)
    # one implementation: `data.negatives` only forwards to evaluation's, with a DeprecationWarning
    with pytest.warns(DeprecationWarning, match="evaluation.perturbations"):
        assert negatives.order_perturbations is order_perturbations
    with pytest.warns(DeprecationWarning):
        assert negatives.aro_pre_caption(CAPTIONS[1]) == pre_caption(CAPTIONS[1])


def test_seed_changes_the_order_options_only(tmp_path):
    build_coco(tmp_path)
    items = {seed: aro.load_items(tmp_path, seed=seed) for seed in (0, 0, 1)}
    again = aro.load_items(tmp_path, seed=0)
    assert [it.options for it in again] == [it.options for it in items[0]]  # reproducible
    assert [it.options[0] for it in items[1]] == [it.options[0] for it in items[0]]  # the true captions stay
    assert [it.options for it in items[1]] != [it.options for it in items[0]]  # the perturbations move


def test_cli_seed_and_tagger_reach_the_perturbations(tmp_path, monkeypatch):
    from ahnpl_lightning.tools.eval import main

    calls = []

    def spy(caption: str, seed: int, tagger: str = "auto") -> list[str]:
        calls.append((seed, tagger))
        return order_perturbations(caption, seed, tagger)

    monkeypatch.setattr(aro, "order_perturbations", spy)
    build_coco(tmp_path / "data")
    out = tmp_path / "r.json"
    assert main(["--benchmarks", "aro", "--data-root", str(tmp_path / "data"), "--model", "AHNPL-Tiny-64",
                 "--output", str(out), "--device", "cpu", "--no-progress", "--seed", "5", "--tagger", "builtin"]) == 0
    assert calls == [(5 + i, "builtin") for i in range(6)]  # one draw per (image, caption), seeded from --seed
    assert json.loads(out.read_text())["benchmarks"]["aro"]["subsets"]["coco_order"]["count"] == 5


def test_evaluation_text_features_are_trainings_encode_text():
    torch.manual_seed(0)
    bundle = create_model_and_transforms("AHNPL-Tiny-64", pretrained=None)
    bundle.model.eval()
    encoder = ModelEncoder(bundle.model, bundle.preprocess_val, bundle.tokenizer, "cpu", batch_size=len(CAPTIONS),
                           progress=False)
    with torch.no_grad():
        expected = encode_text(bundle.model, bundle.tokenizer(CAPTIONS))
        full = torch.nn.functional.normalize(bundle.model.encode_text(bundle.tokenizer(CAPTIONS)), dim=-1)
    got = encoder.encode_texts(CAPTIONS)
    assert torch.equal(got, expected)  # the same function, bit for bit
    torch.testing.assert_close(got, full, atol=1e-5, rtol=0)  # and the trimmed pass equals the full-context one
