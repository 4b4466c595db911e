"""AHNPLModule glue: optimiser groups, schedule, logit-scale clamp, NaN guard, checkpoint/export round trips,
and a few-step fit of every baseline config."""

from __future__ import annotations

import math
from pathlib import Path

import lightning.pytorch as pl
import open_clip
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ahnpl_lightning import cli
from conftest import small_ahnpl_config
from ahnpl_lightning.data.datamodule import AHNPLDataModule
from ahnpl_lightning.data.sources import WorldSource
from ahnpl_lightning.export import export_checkpoint
from ahnpl_lightning.losses import AHNPLLoss
from ahnpl_lightning.model import TINY_MODEL, register_model_configs
from ahnpl_lightning.tools import export as export_tool
from ahnpl_lightning.module import AHNPLModule, warmup_cosine

ROOT = Path(__file__).resolve().parents[1]


def small_data(**kwargs) -> AHNPLDataModule:
    return AHNPLDataModule(WorldSource(train_size=32, val_size=8), batch_size=8, **kwargs)


def test_warmup_cosine_schedule() -> None:
    assert warmup_cosine(0, 4, 20) == pytest.approx(0.25)
    assert warmup_cosine(3, 4, 20) == pytest.approx(1.0)
    assert warmup_cosine(12, 4, 20) == pytest.approx(0.5)
    assert warmup_cosine(20, 4, 20) == pytest.approx(0.0)


def test_no_weight_decay_on_gains_biases_and_logit_scale() -> None:
    module = AHNPLModule(lr=1e-3, lr_schedule="constant")
    opt = module.configure_optimizers()
    no_decay, decay = opt.param_groups
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == pytest.approx(0.1)
    names = {id(p): n for n, p in module.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert "model.logit_scale" in no_decay_names
    assert all(p.ndim >= 2 for p in decay["params"])
    assert opt.defaults["betas"] == (0.9, 0.98) and opt.defaults["eps"] == 1e-6


def test_logit_scale_is_clamped_and_nan_raises(tiny_trainer_kwargs: dict) -> None:
    module = AHNPLModule(lr=1e-3)
    with torch.no_grad():
        module.model.logit_scale.fill_(math.log(500.0))
    pl.Trainer(**{**tiny_trainer_kwargs, "max_steps": 1}).fit(module, small_data())
    assert module.model.logit_scale.exp().item() <= 100.0 + 1e-3

    broken = AHNPLModule(lr=1e-3)
    with torch.no_grad():
        broken.model.text_projection.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"non-finite '\w+' at global step 0") as error:
        pl.Trainer(**{**tiny_trainer_kwargs, "max_steps": 1}).fit(broken, small_data())
    message = str(error.value)
    assert "non-finite 'itc'" in message and "text_features" in message and "already non-finite" in message
    assert "learning rate = 2e-05" in message and "logit scale s = 14.29" in message  # warm-up 1/50, s = 1/0.07


def test_lagged_finite_check_names_the_step_it_came_from(tiny_trainer_kwargs: dict) -> None:
    module = AHNPLModule(lr=1e-3, check_finite_lagged=True)
    with torch.no_grad():
        module.model.text_projection.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"non-finite '\w+' at global step 0"):
        pl.Trainer(**{**tiny_trainer_kwargs, "max_steps": 2}).fit(module, small_data())
    assert module.global_step == 1  # raised during the second step, about the first


class _NaNImageSideAt:
    """Wraps a loss: at training step `step` its image-side term (and so the total) becomes NaN."""

    def __init__(self, module: AHNPLModule, step: int) -> None:
        self.module, self.step, self.forward = module, step, module.loss.forward

    def __call__(self, *args, **kwargs) -> dict[str, torch.Tensor]:
        out = self.forward(*args, **kwargs)
        if self.module.training and self.module.global_step == self.step:
            out["mhn_image"] = out["mhn_image"] * float("nan")
            out["loss"] = out["loss"] + out["mhn_image"]
        return out


@pytest.mark.parametrize("lagged", [True, False])
def test_nan_at_the_last_step_raises_names_the_term_and_no_checkpoint_holds_it(
    lagged: bool, tmp_path: Path, tiny_trainer_kwargs: dict
) -> None:
    module = AHNPLModule(lr=1e-3, check_finite_lagged=lagged)
    module.loss.forward = _NaNImageSideAt(module, step=1)  # the second and last step
    checkpoints = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=1, save_top_k=-1,
                                               filename="{step}")
    trainer = pl.Trainer(**{**tiny_trainer_kwargs, "max_steps": 2, "enable_checkpointing": True,
                            "callbacks": [checkpoints]})
    with pytest.raises(FloatingPointError, match=r"non-finite 'mhn_image' at global step 1 \(epoch 0\)") as error:
        trainer.fit(module, small_data())
    assert "also non-finite: loss" in str(error.value) and "the loss overflowed" in str(error.value)
    assert sorted(path.name for path in (tmp_path / "ckpt").iterdir()) == ["step=1.ckpt"]  # not step=2


def test_frozen_tower_builds_no_graph() -> None:
    module = AHNPLModule(freeze_image_tower=True)
    images = torch.randn(2, 3, 64, 64)
    tokens = module.tokenizer(["a red circle", "a blue square"])
    from ahnpl_lightning.encoding import encode_image, encode_text

    assert encode_image(module.model, images).grad_fn is None
    assert encode_text(module.model, tokens).grad_fn is not None


def test_trim_token_columns_shares_one_length() -> None:
    from ahnpl_lightning.encoding import trim_token_columns

    batch = {"captions": torch.tensor([[1, 2, 0, 0, 0]]), "negatives": torch.tensor([[[1, 2, 3, 0, 0], [0] * 5]])}
    trim_token_columns(batch, ("captions", "negatives", "absent"))
    assert batch["captions"].tolist() == [[1, 2, 0]] and batch["negatives"].shape == (1, 2, 3)


def test_margin_state_resets_each_epoch(tiny_trainer_kwargs: dict) -> None:
    module = AHNPLModule(lr=1e-3, reset_margin_each_epoch=True)
    module.loss.margin.theta.fill_(3.0)
    module.on_train_epoch_start()
    assert torch.all(module.loss.margin.theta == 0)


class ScaledITCLoss(AHNPLLoss):
    """A user's loss subclass with an argument of its own: the ITC weight multiplied by `itc_factor`."""

    def __init__(self, itc_factor: float = 2.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.itc_factor = itc_factor

    @property
    def term_weights(self) -> dict[str, float]:
        return {**super().term_weights, "itc": self.itc_weight * self.itc_factor}


def test_checkpoint_rebuilds_the_loss_class_and_configuration(tmp_path: Path, tiny_trainer_kwargs: dict) -> None:
    loss = ScaledITCLoss(itc_factor=3.0, mhn_weight=0.0, perturbation=False, margin_weight=0.0)
    assert loss.init_args == {"itc_factor": 3.0, "mhn_weight": 0.0, "perturbation": False, "margin_weight": 0.0}
    module = AHNPLModule(loss=loss, lr=1e-3)
    assert module.hparams["loss"]["class_path"] == "test_module.ScaledITCLoss"
    trainer = pl.Trainer(**{**tiny_trainer_kwargs, "max_steps": 2})
    trainer.fit(module, small_data())
    path = tmp_path / "m.ckpt"
    trainer.save_checkpoint(path)
    reloaded = AHNPLModule.load_from_checkpoint(path, map_location="cpu")
    assert type(reloaded.loss) is ScaledITCLoss and reloaded.loss.itc_factor == 3.0
    assert reloaded.loss.mhn_weight == 0.0 and reloaded.loss.perturbation is False
    assert reloaded.loss.term_weights == loss.term_weights
    for key, value in module.state_dict().items():
        assert torch.equal(value, reloaded.state_dict()[key]), key
    plain = AHNPLModule(loss=AHNPLLoss(loss_variant="released", renormalize=False))
    assert plain.hparams["loss"]["class_path"] == "ahnpl_lightning.losses.AHNPLLoss"
    with pytest.raises(ValueError, match="cannot be imported"):
        AHNPLModule(loss={"class_path": "no_such_module.Loss", "init_args": {}})


def test_export_loads_in_open_clip(tmp_path: Path, tiny_trainer_kwargs: dict,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    module = AHNPLModule(lr=1e-3)
    trainer = pl.Trainer(**{**tiny_trainer_kwargs, "max_steps": 1})
    trainer.fit(module, small_data())
    ckpt = tmp_path / "m.ckpt"
    trainer.save_checkpoint(ckpt)
    assert cli.main(["export", "--ckpt-path", str(ckpt), "--output", str(tmp_path / "w.pt")]) == 0
    register_model_configs()
    loaded, _, _ = open_clip.create_model_and_transforms(TINY_MODEL, pretrained=str(tmp_path / "w.pt"))
    for key, value in module.model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    folder = export_checkpoint(ckpt, tmp_path / "exported")
    from_dir = open_clip.create_model(f"local-dir:{folder}")
    assert torch.equal(from_dir.text_projection, module.model.text_projection)
    # the old flag spelling is a hidden alias; the old import path of `main` warns and still works
    with pytest.warns(DeprecationWarning, match="tools.export"):
        from ahnpl_lightning.export import main as old_main
    assert old_main(["--ckpt_path", str(ckpt), "--output", str(tmp_path / "w2.pt")]) == 0
    assert torch.equal(torch.load(tmp_path / "w2.pt")["text_projection"], module.model.text_projection)
    assert "--ckpt_path" not in export_tool.build_parser().format_help()


@pytest.mark.parametrize("kind", ["missing", "directory", "text", "plain_state_dict"])
def test_export_says_what_is_wrong_with_the_checkpoint(kind: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.ckpt"
    if kind == "directory":
        path.mkdir()
    elif kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "plain_state_dict":
        torch.save({"text_projection": torch.zeros(2, 2)}, path)
    assert export_tool.main(["--ckpt-path", str(path), "--output", str(tmp_path / "w.pt")]) == 2
    err = capsys.readouterr().err
    expected = {"missing": "not found", "directory": "a directory", "text": "not a PyTorch checkpoint",
                "plain_state_dict": "not a Lightning checkpoint"}[kind]
    assert str(path) in err and expected in err and "weights_only" not in err, err
    assert not (tmp_path / "w.pt").exists()
    with pytest.raises(SystemExit):
        export_tool.main(["--output", str(tmp_path / "w.pt")])
    assert "--ckpt-path" in capsys.readouterr().err


def test_real_image_negatives_reach_the_loss(tiny_trainer_kwargs: dict) -> None:
    data = AHNPLDataModule(WorldSource(train_size=16, val_size=8, image_negatives=True), batch_size=8,
                           image_negatives=True)
    module = AHNPLModule(lr=1e-3)
    data.trainer = None
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["image_negatives"].shape[:2] == (8, 5)
    features = module(batch)
    assert features["image_negative_features"].shape == (8, 5, 128)
    # verb never exists in the world: its image negative is masked out
    assert not batch["negative_mask"][:, 4].any()


def test_negclip_image_negatives_become_extra_batch_rows() -> None:
    torch.manual_seed(0)
    module = AHNPLModule(lr=1e-3)
    tokens = module.tokenizer(["a red circle", "a blue square", "a green star", "a cat", "a dog", "a cow"])
    batch = {
        "images": torch.randn(2, 3, 64, 64),
        "captions": tokens[:2],
        "negatives": tokens[1:6].unsqueeze(0).expand(2, -1, -1),
        "negative_mask": torch.tensor([[True, False, False, False, False], [False] * 5]),
        "neg_images": torch.randn(2, 2, 3, 64, 64),
        "neg_image_captions": tokens[2:6].view(2, 2, -1),
        "neg_image_mask": torch.tensor([[True, False], [True, True]]),
    }
    features = module(batch)
    # every B*M extra row is kept (no boolean indexing, the same count on every rank); the missing one is invalid
    assert features["image_features"].shape == (6, 128)
    assert features["sample_mask"].tolist() == [True, True, True, False, True, True]
    assert features["negative_mask"].tolist() == [[True] + [False] * 4] + [[False] * 5] * 5
    with torch.no_grad():
        expected = torch.nn.functional.normalize(module.model.encode_image(batch["neg_images"][1]), dim=-1)
    torch.testing.assert_close(features["image_features"][4:], expected, atol=1e-5, rtol=0)
    scale = module.model.logit_scale.exp()
    out = module.loss(logit_scale=scale, **features)
    # the invalid row counts for nothing: the loss of the five valid rows alone
    keep = features["sample_mask"]
    valid = {k: v[keep] for k, v in features.items() if k != "sample_mask"}
    torch.testing.assert_close(out["loss"], AHNPLLoss()(logit_scale=scale, **valid)["loss"], atol=1e-6, rtol=0)
    out["loss"].backward()


def test_clip_finetune_skips_negative_encoding_in_training_only() -> None:
    torch.manual_seed(0)
    clip = AHNPLLoss(itc_negatives=False, mhn_weight=0.0, perturbation=False, margin_weight=0.0)
    assert not clip.uses_negatives and AHNPLLoss().uses_negatives
    module = AHNPLModule(loss=clip)
    tokens = module.tokenizer(["a red circle", "a blue square"] + ["a green star"] * 10)
    batch = {"images": torch.randn(2, 3, 64, 64), "captions": tokens[:2], "negatives": tokens[2:].view(2, 5, -1),
             "negative_mask": torch.ones(2, 5, dtype=torch.bool)}
    module.train()
    features = module(batch)
    assert features["negative_features"].shape == (2, 5, 128)
    assert not features["negative_features"].any() and not features["negative_mask"].any()
    module.eval()
    with torch.no_grad():
        features = module(batch)
    assert features["negative_mask"].all()
    torch.testing.assert_close(features["negative_features"][0, 0], features["negative_features"][1, 4])


@pytest.mark.parametrize("baseline", ["clip_finetune", "negclip", "ceclip", "ceclip_released", "ahnpl_released"])
def test_baseline_configs_fit(baseline: str, tmp_path: Path) -> None:
    cli.main([
        "fit", "-c", small_ahnpl_config(tmp_path),
        "-c", str(ROOT / "configs" / "baselines" / f"{baseline}.yaml"),
        "--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
        "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}", "--data.init_args.num_workers=0",
        "--data.init_args.batch_size=8", "--data.init_args.source.init_args.train_size=32",
        "--data.init_args.source.init_args.val_size=8",
    ])
    ckpt = next(tmp_path.rglob("last.ckpt"))
    hparams = torch.load(ckpt, map_location="cpu", weights_only=False)["hyper_parameters"]
    init_args = hparams["loss"]["init_args"]
    expected = {"clip_finetune": ("corrected", False), "negclip": ("corrected", True), "ceclip": ("corrected", True),
                "ceclip_released": ("released", True), "ahnpl_released": ("released", True)}[baseline]
    assert (init_args["loss_variant"], init_args["itc_negatives"]) == expected


# Every config under configs/baselines and configs/recipes, stacked as its header says, with what it must print.
CONFIG_STACKS = {
    "clip_finetune": (["baselines/clip_finetune.yaml"], ["gradient_clip_val: 1.0", "itc_negatives: false"]),
    "negclip": (["baselines/negclip.yaml"], ["gradient_clip_val: 1.0", "mhn_weight: 0.0"]),
    "ceclip": (["baselines/ceclip.yaml"], ["gradient_clip_val: 1.0", "loss_variant: corrected",
                                           "margin_upper_bound: 10.0", "ceclip_intra_weight: 0.3"]),
    "ceclip_released": (["baselines/ceclip_released.yaml"], ["gradient_clip_val: null", "loss_variant: released",
                                                             "reset_margin_each_epoch: true"]),
    "ahnpl_released": (["baselines/ahnpl_released.yaml"], ["gradient_clip_val: null", "loss_variant: released",
                                                           "image_negative_scheme: translate"]),
    "ahnpl_paper_recipe": (["data/coco.yaml", "recipes/vitb32_paper.yaml", "trainer/gpu.yaml"],
                           ["gradient_clip_val: null", "lr: 2.0e-05", "image_negative_scheme: reflect"]),
    "ceclip_recipe": (["baselines/ceclip_released.yaml", "data/coco.yaml", "recipes/vitb32_paper.yaml",
                       "trainer/gpu.yaml", "recipes/ceclip.yaml"],
                      ["gradient_clip_val: null", "lr: 5.0e-06", "precision: 16-mixed", "batch_size: 256",
                       "weight_decay: 0.1", "max_epochs: 10", "model_name: ViT-B-32-quickgelu"]),
    "negclip_recipe": (["baselines/negclip.yaml", "data/negclip.yaml", "recipes/vitb32_paper.yaml",
                        "trainer/gpu.yaml", "recipes/negclip.yaml"],
                       ["gradient_clip_val: null", "lr: 1.0e-06", "precision: 16-mixed", "batch_size: 256",
                        "weight_decay: 0.2", "max_epochs: 5", "model_name: ViT-B-32-quickgelu"]),
}


def test_every_baseline_and_recipe_config_is_covered() -> None:
    shipped = {f"{path.parent.name}/{path.name}" for folder in ("baselines", "recipes")
               for path in (ROOT / "configs" / folder).glob("*.yaml")}
    stacked = {path for stack, _ in CONFIG_STACKS.values() for path in stack}
    assert shipped <= stacked, shipped - stacked
    for name in shipped:
        header = (ROOT / "configs" / name).read_text().split("\ntrainer:")[0]
        assert "Clipping:" in header, f"{name}: the header must say what it does about gradient clipping"


@pytest.mark.parametrize("name", list(CONFIG_STACKS))
def test_baseline_and_recipe_configs_stack_and_say_what_they_run(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stack, expected = CONFIG_STACKS[name]
    args = ["fit", "-c", str(ROOT / "configs" / "ahnpl.yaml")]
    for path in stack:
        args += ["-c", str(ROOT / "configs" / path)]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*args, "--print_config"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    missing = [line for line in expected if line not in out]
    assert not missing, (name, missing)


@pytest.mark.parametrize("name", ["ahnpl.yaml", *sorted(f"{p.parent.name}/{p.name}" for folder in
                                                      ("baselines", "recipes")
                                                      for p in (ROOT / "configs" / folder).glob("*.yaml"))])
def test_every_config_that_sets_checkpoints_keeps_an_unmonitored_last_ckpt(name: str) -> None:
    """A monitored `save_last` goes stale once the metric stops improving (Lightning 2.6): a config that replaces the
    callbacks must keep the unmonitored `last.ckpt` checkpoint of configs/ahnpl.yaml."""
    import yaml

    callbacks = (yaml.safe_load((ROOT / "configs" / name).read_text()).get("trainer") or {}).get("callbacks")
    if callbacks is None:
        return  # inherits configs/ahnpl.yaml's callbacks
    checkpoints = [c.get("init_args") or {} for c in callbacks if c["class_path"].endswith("ModelCheckpoint")]
    assert not [c for c in checkpoints if c.get("monitor") and c.get("save_last")], name
    assert [c for c in checkpoints if c.get("monitor") is None and c.get("filename") == "last"], name


def test_use_image_negatives_is_deprecated_whenever_given(recwarn: pytest.WarningsRecorder) -> None:
    """The data source is the one switch for image negatives; the module's flag warns when given (False still drops
    them, for one release)."""
    AHNPLModule()
    assert not [w for w in recwarn if "use_image_negatives" in str(w.message)]
    batch = {"images": torch.randn(2, 3, 64, 64), "captions": torch.ones(2, 4, dtype=torch.long),
             "negatives": torch.ones(2, 5, 4, dtype=torch.long), "negative_mask": torch.ones(2, 5, dtype=torch.bool),
             "image_negatives": torch.randn(2, 5, 3, 64, 64), "image_negative_mask": torch.ones(2, 5, dtype=torch.bool)}
    for value, used in ((True, True), (False, False)):
        with pytest.warns(DeprecationWarning, match="use_image_negatives=.... is deprecated.*switched on the data"):
            module = AHNPLModule(use_image_negatives=value)
        with torch.no_grad():
            assert ("image_negative_features" in module(batch)) is used


class _HostSyncs(TorchDispatchMode):
    """Records the ops that make an accelerator wait for the host: reading a value (`item`, `int`, `bool`),
    `nonzero`, `masked_select` and indexing with a boolean mask (measured on the CPU, where they are cheap)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        name = func.overloadpacket.__name__
        if name in ("_local_scalar_dense", "nonzero", "masked_select"):
            self.ops.append(name)
        if name == "index" and any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in args[1] or ()):
            self.ops.append("boolean index")
        return func(*args, **(kwargs or {}))


def test_training_computation_has_no_host_device_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """forward + loss + backward on batches with blank rows and with NegCLIP's extra rows (one missing) makes no op
    that would sync an accelerator with the host. (`encode_text` trims CPU tokens on the host by design; on an
    accelerator the collate has trimmed them already, so that trim is switched off here.)"""
    from ahnpl_lightning import encoding
    from ahnpl_lightning.data.datamodule import TripletDataset, collate_triplets

    monkeypatch.setattr(encoding, "trim_padding", lambda tokens, pad_id=0: tokens)
    torch.manual_seed(0)
    module = AHNPLModule()
    data = TripletDataset(WorldSource(train_size=6, val_size=0).train_dataset(), module.preprocess_train,
                          module.tokenizer)
    items = [data[i] for i in range(6)]
    items[2] = {"skipped": "unreadable_image", "location": "x.jpg"}
    world = collate_triplets(items, blank=data.blank())
    tokens = module.tokenizer(["a red circle", "a blue square", "a green star", "a cat", "a dog", "a cow"])
    negclip = {"images": torch.randn(2, 3, 64, 64), "captions": tokens[:2],
               "negatives": tokens[1:6].unsqueeze(0).expand(2, -1, -1).clone(),
               "negative_mask": torch.tensor([[True, False, False, False, False], [False] * 5]),
               "sample_mask": torch.tensor([True, True]), "valid_samples": 2,
               "neg_images": torch.randn(2, 2, 3, 64, 64), "neg_image_captions": tokens[2:6].view(2, 2, -1),
               "neg_image_mask": torch.tensor([[True, False], [True, True]])}
    for batch in (world, negclip):
        with _HostSyncs() as syncs:
            features = module(batch)
            module.loss(logit_scale=module.model.logit_scale.exp(), **features)["loss"].backward()
        assert syncs.ops == [], syncs.ops
