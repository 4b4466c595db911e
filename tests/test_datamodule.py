"""AHNPLDataModule: batch shapes and masks, bad-input counting, DDP shards, resumable order, CLI runs on fixtures."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import Dataset

from ahnpl_lightning import cli
from ahnpl_lightning.data.datamodule import AHNPLDataModule, EpochSampler, TripletDataset, collate_triplets
from ahnpl_lightning.data.sources import CocoSource, KarpathySource, NegCLIPSource
from tests._data_fixtures import (
    coco_fixture,
    karpathy_fixture,
    negclip_fixture,
    npy_fixture,
    simple_transform,
    tokenizer,
)

ROOT = Path(__file__).resolve().parents[1]
TOKENIZER = tokenizer()


def standalone(source: Any, **kwargs: Any) -> AHNPLDataModule:
    """A DataModule without a Trainer, using the cheap fixture transform and the tiny model's tokenizer."""
    data = AHNPLDataModule(source, num_workers=0, **kwargs)
    data._model_parts = lambda: (simple_transform, simple_transform, TOKENIZER)  # type: ignore[method-assign]
    return data


def drain(data: AHNPLDataModule, loader: Any) -> list[dict[str, Any]]:
    """Every batch of `loader`, passed through the DataModule's skip accounting as Lightning would."""
    return [data.on_before_batch_transfer(batch, 0) for batch in loader]


def test_negclip_batches_shapes_masks_and_skip_counts(tmp_path: Path) -> None:
    fx = negclip_fixture(tmp_path, rows=40)
    source = NegCLIPSource(str(fx["annotations"]), str(fx["image_root"]), negatives="source", image_negatives=2,
                           negative_draw="first")
    data = standalone(source, batch_size=8)
    data.setup("fit")
    batches = drain(data, data.train_dataloader())
    assert len(batches) == 5  # 40 rows / 8, every row visited once
    first = batches[0]
    n, length = first["images"].shape[0], first["captions"].shape[1]
    # token columns are cut to the batch's longest real sequence, shared by captions and all negatives
    texts = torch.cat([first["captions"].unsqueeze(1), first["negatives"], first["neg_image_captions"]], dim=1)
    assert length < 32 and texts[..., -1].any()
    assert first["images"].shape == (n, 3, 8, 8) and first["captions"].shape == (n, length)
    assert first["negatives"].shape == (n, 5, length) and first["negative_mask"].shape == (n, 5)
    assert first["neg_images"].shape == (n, 2, 3, 8, 8) and first["neg_image_captions"].shape == (n, 2, length)
    # NegCLIP's own negatives fill only the relation slot; masked slots hold no tokens
    real = first["sample_mask"]
    assert first["negative_mask"][real].tolist() == [[True, False, False, False, False]] * int(real.sum())
    assert not first["negatives"][:, 1:].any()
    seen = []
    for batch in batches:
        # an unreadable sample keeps its place as a blank row: every batch holds the 8 rows the sampler asked for
        assert batch["images"].shape[0] == 8 and batch["valid_samples"] == int(batch["sample_mask"].sum())
        blank = ~batch["sample_mask"]
        assert (batch["index"][blank] == -1).all() and not batch["images"][blank].any()
        assert not batch["negative_mask"][blank].any() and not batch["neg_image_mask"][blank].any()
        for row, index in enumerate(batch["index"].tolist()):
            if index < 0:
                continue
            seen.append(index)
            wanted = fx["neg_images"][index][:2]
            expected = [i < 40 and i not in fx["missing"] for i in wanted]
            assert batch["neg_image_mask"][row].tolist() == expected
            for m, ok in enumerate(expected):
                caption = TOKENIZER([fx["rows"][wanted[m]][1]])[0] if ok else torch.zeros(32, dtype=torch.long)
                width = batch["neg_image_captions"].shape[-1]
                assert torch.equal(batch["neg_image_captions"][row, m], caption[:width]) and not caption[width:].any()
                assert bool(batch["neg_images"][row, m].any()) == ok
    missing_rows = set(fx["missing"])
    assert sorted(seen) == [k for k in range(40) if k not in missing_rows]
    in_range_missing = sum(1 for k in range(40) if k not in missing_rows
                           for i in fx["neg_images"][k][:2] if i < 40 and i in missing_rows)
    out_of_range = sum(1 for negs in fx["neg_images"] for i in negs[:2] if i >= 40)
    assert data.skipped == Counter({"missing_image": len(missing_rows), "neg_image_out_of_range": out_of_range,
                                    **({"neg_image_missing": in_range_missing} if in_range_missing else {})})


def test_bad_samples_are_markers_never_crashes() -> None:
    class Broken(Dataset):
        def __len__(self) -> int:
            return 3

        def __getitem__(self, index: int) -> dict[str, Any]:
            if index == 0:
                raise OSError("disk on fire")
            from PIL import Image

            caption = "" if index == 1 else "a cat"
            return {"image": Image.new("RGB", (8, 8)), "caption": caption, "negatives": {"noun": "a dog"},
                    "location": f"broken.tsv:row {index}"}

    dataset = TripletDataset(Broken(), simple_transform, TOKENIZER)
    batch = collate_triplets([dataset[i] for i in range(3)])
    assert batch["skipped"] == [("OSError", "sample 0: disk on fire"), ("empty_caption", "broken.tsv:row 1")]
    # the bad samples keep their places as blank rows, marked in sample_mask
    assert batch["images"].shape == (3, 3, 8, 8) and not batch["images"][:2].any()
    assert batch["sample_mask"].tolist() == [False, False, True] and batch["valid_samples"] == 1
    assert batch["negative_mask"].tolist() == [[False] * 5, [False] * 5, [False, False, False, True, False]]
    assert batch["index"].tolist() == [-1, -1, 2]
    # a batch of bad samples only: blank rows shaped like the dataset's items (`blank()`), or no rows without one
    only_bad = [dataset[0], dataset[1]]
    assert collate_triplets(only_bad)["valid_samples"] == 0 and "images" not in collate_triplets(only_bad)
    padded = collate_triplets(only_bad, blank=dataset.blank())
    assert padded["images"].shape == (2, 3, 8, 8) and not padded["sample_mask"].any()
    assert padded["negatives"].shape[:2] == (2, 5) and padded["valid_samples"] == 0


def test_coco_counts_missing_unreadable_and_malformed_rows(tmp_path: Path) -> None:
    fx = coco_fixture(tmp_path)
    data = standalone(CocoSource(str(fx["annotations"]), str(fx["image_root"]),
                                 val_annotations=str(fx["annotations"]), negatives="none"), batch_size=4)
    with pytest.warns(UserWarning, match="malformed_missing_caption: 1 at captions_train2014.json:annotation 12"):
        data.setup("fit")
    batches = drain(data, data.val_dataloader())
    assert sum(b["valid_samples"] for b in batches) == fx["good"]
    assert sum(b["images"].shape[0] for b in batches) == sum(len(b["sample_mask"]) for b in batches)
    assert data.skipped == Counter({"missing_image": 2, "unreadable_image": 2, **fx["malformed"]})
    with pytest.warns(DeprecationWarning, match="'corrupt_image' is now called 'unreadable_image'"):
        assert data.skipped["corrupt_image"] == 2  # the old name still reads


def test_missing_source_fails_at_setup_with_path(tmp_path: Path) -> None:
    data = standalone(CocoSource(str(tmp_path / "captions_train2014.json"), str(tmp_path)))
    with pytest.raises(FileNotFoundError, match=r"COCO captions JSON \(captions_train2014.json\) not found at "):
        data.setup("fit")


def test_epoch_sampler_shards_are_disjoint_equal_and_deterministic() -> None:
    n, world = 23, 3
    shards = [EpochSampler(n, seed=5, rank=r, world_size=world) for r in range(world)]
    for epoch in (0, 1):
        for sampler in shards:
            sampler.set_epoch(epoch)
        parts = [list(s) for s in shards]
        assert [len(p) for p in parts] == [7, 7, 7] == [len(s) for s in shards]
        flat = [i for p in parts for i in p]
        assert len(set(flat)) == 21
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(5 + epoch)).tolist()[:21]
        assert parts[1] == perm[1::3]
    assert list(EpochSampler(7, shuffle=False, rank=1, world_size=2)) == [1, 3, 5]
    again = EpochSampler(n, seed=5, rank=0, world_size=world)
    assert list(again) != list(EpochSampler(n, seed=6, rank=0, world_size=world))


def test_order_seed_defaults_to_seed_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fx = karpathy_fixture(tmp_path)
    monkeypatch.setenv("PL_GLOBAL_SEED", "42")
    data = standalone(KarpathySource(str(fx["annotations"]), str(fx["image_root"]), negatives="none"), batch_size=8)
    data.setup("fit")
    order = next(iter(data.train_dataloader()))["index"].tolist()
    assert order == torch.randperm(8, generator=torch.Generator().manual_seed(42)).tolist()


def test_resume_mid_epoch_continues_the_same_order(tmp_path: Path) -> None:
    fx = karpathy_fixture(tmp_path)

    def make() -> AHNPLDataModule:
        data = standalone(KarpathySource(str(fx["annotations"]), str(fx["image_root"]), negatives="none"),
                          batch_size=2, seed=11)
        data.setup("fit")
        return data

    full = make()
    loader = full.train_dataloader()
    epoch0 = [b["index"].tolist() for b in loader]
    full.train_sampler.set_epoch(1)
    epoch1 = [b["index"].tolist() for b in loader]
    assert sorted(sum(epoch0, [])) == list(range(8)) and epoch0 != epoch1

    first = make()
    iterator = iter(first.train_dataloader())
    head = [next(iterator)["index"].tolist() for _ in range(3)]
    state = first.state_dict()
    assert state["sampler"]["start"] == 6 and state["sampler"]["epoch"] == 0
    second = make()
    second.load_state_dict(json.loads(json.dumps(state)))  # survives a round trip through plain types
    tail = [b["index"].tolist() for b in second.train_dataloader()]
    assert head + tail == epoch0


class Recorder(LightningModule):
    """A minimal module that records which samples each training step saw."""

    def __init__(self, out: Path | None = None) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.tokenizer, self.preprocess_train, self.preprocess_val = TOKENIZER, simple_transform, simple_transform
        self.seen: list[list[int]] = []
        self.out = out

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        self.seen.append(batch["index"].tolist())
        return (self.weight * batch["images"].mean()).sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def on_train_end(self) -> None:
        if self.out is not None:
            (self.out / f"rank{self.global_rank}.json").write_text(json.dumps(self.seen))


def _trainer(root: Path, steps: int, limit: float = 1.0, **kwargs: Any) -> Trainer:
    return Trainer(accelerator="cpu", devices=1, max_steps=steps, limit_train_batches=limit, limit_val_batches=0,
                   logger=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(root),
                   **kwargs)


# mid-epoch, exactly at the end of epoch 0 (4 batches per epoch), mid-epoch with worker processes prefetching,
# and at the end of an epoch cut short by limit_train_batches
@pytest.mark.parametrize(("stop", "workers", "limit"), [(2, 0, 1.0), (4, 0, 1.0), (2, 2, 1.0), (3, 0, 3)])
def test_trainer_resume_from_checkpoint_continues_the_data_order(tmp_path: Path, stop: int, workers: int,
                                                                 limit: float) -> None:
    fx = karpathy_fixture(tmp_path)

    def data() -> AHNPLDataModule:
        return AHNPLDataModule(KarpathySource(str(fx["annotations"]), str(fx["image_root"]), negatives="none"),
                               batch_size=2, num_workers=workers, seed=3)

    reference = Recorder()
    _trainer(tmp_path / "ref", 6, enable_checkpointing=False, limit=limit).fit(reference, datamodule=data())
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=stop, save_top_k=-1,
                                 filename="{step}")
    interrupted = Recorder()
    _trainer(tmp_path / "a", stop, callbacks=[checkpoint], limit=limit).fit(interrupted, datamodule=data())
    resumed = Recorder()
    _trainer(tmp_path / "b", 6, enable_checkpointing=False, limit=limit).fit(
        resumed, datamodule=data(), ckpt_path=str(tmp_path / "ckpt" / f"step={stop}.ckpt"))
    assert len(reference.seen) == 6
    if limit == 1.0:
        assert sorted(sum(reference.seen[:4], [])) == list(range(8))
    assert interrupted.seen + resumed.seen == reference.seen


def test_ddp_fork_ranks_see_disjoint_shards(tmp_path: Path) -> None:
    fx = karpathy_fixture(tmp_path)
    data = AHNPLDataModule(KarpathySource(str(fx["annotations"]), str(fx["image_root"]), negatives="none"),
                           batch_size=2, num_workers=0, seed=1)
    trainer = Trainer(accelerator="cpu", devices=2, strategy="ddp_fork", max_epochs=1, limit_val_batches=0,
                      logger=False, enable_progress_bar=False, enable_model_summary=False,
                      enable_checkpointing=False, default_root_dir=str(tmp_path))
    trainer.fit(Recorder(out=tmp_path), datamodule=data)
    ranks = [sum(json.loads((tmp_path / f"rank{r}.json").read_text()), []) for r in (0, 1)]
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(1)).tolist()
    assert ranks == [perm[0::2], perm[1::2]]


def _fit(tmp_path: Path, data_config: str, *overrides: str) -> Any:
    args = [
        "fit", "--config", str(ROOT / "configs" / "ahnpl.yaml"),
        "--config", str(ROOT / "configs" / "data" / data_config),
        "--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--trainer.num_sanity_val_steps=0",
        "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", f"--trainer.default_root_dir={tmp_path}",
        f"--trainer.logger.init_args.save_dir={tmp_path}", "--data.init_args.num_workers=0",
        "--data.init_args.batch_size=4", "--trainer.callbacks=[]", *overrides,
    ]
    return cli.run_cli(args)


def test_cli_fit_negclip_config_on_fixture(tmp_path: Path) -> None:
    fx = negclip_fixture(tmp_path, rows=12, missing_every=4)
    src = "--data.init_args.source.init_args."
    run = _fit(tmp_path, "negclip.yaml", f"{src}annotations={fx['annotations']}",
               f"{src}image_root={fx['image_root']}", f"{src}val_annotations={fx['annotations']}",
               f"{src}negatives_workers=1", f"{src}image_negatives=2")
    assert run.trainer.global_step == 2
    assert (tmp_path / "negclip_train.negatives.parquet").exists()  # generated on first use
    skipped = run.datamodule.skipped
    # random draws (NegCLIP's default) consider all 3 indices of a row; the file is read for train and for val
    assert skipped["neg_image_out_of_range"] == 2 * sum(1 for negs in fx["neg_images"] for i in negs if i >= 12)
    assert skipped["missing_image"] >= 1
    assert "data/skipped_neg_image_out_of_range" in run.trainer.logged_metrics


def test_cli_fit_coco_config_on_fixture(tmp_path: Path) -> None:
    fx = coco_fixture(tmp_path)
    src = "--data.init_args.source.init_args."
    run = _fit(tmp_path, "coco.yaml", f"{src}annotations={fx['annotations']}", f"{src}image_root={fx['image_root']}",
               f"{src}val_annotations={fx['annotations']}", f"{src}val_image_root={fx['image_root']}",
               f"{src}negatives=none")
    assert run.trainer.global_step == 2
    assert run.datamodule.skipped["malformed_missing_caption"] == 1  # the file is read once for train and val


def test_cli_fit_npy_config_on_fixture(tmp_path: Path) -> None:
    fx = npy_fixture(tmp_path)
    src = "--data.init_args.source.init_args."
    run = _fit(tmp_path, "npy.yaml", f"{src}annotations={fx['annotations']}", f"{src}image_root={fx['image_root']}",
               f"{src}val_annotations={fx['annotations']}",
               f"{src}val_image_template=train2014/COCO_train2014_{{image_id:0>12}}.jpg")
    assert run.trainer.global_step == 2
    assert not run.datamodule.skipped.get("missing_image")


@pytest.mark.parametrize(("config", "source"), [
    ("negclip.yaml", "NegCLIPSource"), ("coco.yaml", "CocoSource"), ("karpathy.yaml", "KarpathySource"),
    ("npy.yaml", "NpySource"), ("csv.yaml", "TableSource"),
])
def test_every_data_config_stacks_on_the_base_config(config: str, source: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["fit", "--config", str(ROOT / "configs" / "ahnpl.yaml"),
                  "--config", str(ROOT / "configs" / "data" / config), "--print_config"])
    assert exit_info.value.code in (0, None)
    out = capsys.readouterr().out
    assert f"class_path: ahnpl_lightning.data.sources.{source}" in out
    assert "train_size" not in out  # the world's arguments do not leak into the file source


class _Counterfactuals(Dataset):
    """One sample whose text negatives are [T, F, T, T, F] and whose images exist only for negatives 0 and 3."""

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict[str, Any]:
        from PIL import Image

        picture = Image.new("RGB", (8, 8), "red")
        return {"image": picture, "caption": "a red cube", "location": "world:0",
                "negatives": {"relation": "a cube red", "adj_swap": None, "adj": "a blue cube", "noun": "a red ball",
                              "verb": None},
                "image_negatives": [picture, None, None, picture, None],
                "image_negatives_valid": [True, False, False, True, False]}


def test_image_negatives_have_their_own_mask_and_never_touch_the_text_mask() -> None:
    """Regression: missing image negatives used to set the shared text mask to False in place ([T,F,T,T,F] became
    [T,F,F,T,F], and all False over a source without counterfactual images), hiding text negatives from every term."""
    with_images = TripletDataset(_Counterfactuals(), simple_transform, TOKENIZER)[0]
    assert with_images["negative_mask"].tolist() == [True, False, True, True, False]
    assert with_images["image_negative_mask"].tolist() == [True, False, False, True, False]
    assert with_images["image_negatives"][[1, 2, 4]].abs().sum() == 0
    class NoCounterfactuals(_Counterfactuals):
        def __getitem__(self, index: int) -> dict[str, Any]:
            sample = super().__getitem__(index)
            del sample["image_negatives"], sample["image_negatives_valid"]
            return sample

    item = TripletDataset(NoCounterfactuals(), simple_transform, TOKENIZER, image_negatives=True)[0]
    # asked for image negatives where the sample has none: zeros and an all-False image mask, the text mask intact
    assert item["negative_mask"].tolist() == [True, False, True, True, False]
    assert not item["image_negative_mask"].any()
    batch = collate_triplets([with_images, TripletDataset(_Counterfactuals(), simple_transform, TOKENIZER)[0]])
    assert batch["negative_mask"].tolist() == [[True, False, True, True, False]] * 2
    assert batch["image_negative_mask"].shape == (2, 5)


def test_image_negatives_are_switched_on_the_source_and_validated_at_setup(tmp_path: Path) -> None:
    from ahnpl_lightning.data.sources import WorldSource

    assert standalone(WorldSource(train_size=8, val_size=0, image_negatives=True)).has_image_negatives
    assert not standalone(WorldSource(train_size=8, val_size=0)).has_image_negatives
    fx = karpathy_fixture(tmp_path)
    with pytest.warns(DeprecationWarning, match="image negatives are switched on the source"):
        data = standalone(KarpathySource(str(fx["annotations"]), str(fx["image_root"]), negatives="none"),
                          image_negatives=True)
    with pytest.raises(Exception, match="KarpathySource has no image hard negatives") as info:
        data.setup("fit")
    from ahnpl_lightning.data.errors import DataError

    assert isinstance(info.value, DataError)
    with pytest.warns(DeprecationWarning):  # the old spelling still works where the source can make them
        world = standalone(WorldSource(train_size=8, val_size=0), image_negatives=True, batch_size=4)
    world.setup("fit")
    batch = next(iter(world.train_dataloader()))
    assert batch["image_negatives"].shape[:2] == (4, 5) and batch["image_negative_mask"].shape == (4, 5)
    negclip = negclip_fixture(tmp_path, rows=4)
    with pytest.warns(DeprecationWarning):
        data = standalone(NegCLIPSource(str(negclip["annotations"]), str(negclip["image_root"]), negatives="none"),
                          image_negatives=True)
    with pytest.raises(Exception, match="set data.init_args.source.init_args.image_negatives to 1-3"):
        data.setup("fit")
