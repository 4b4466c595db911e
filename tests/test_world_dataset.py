"""World datasets: item contents, determinism, image negatives, and sharding over ranks and workers."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest
from torch.utils.data import DataLoader

from ahnpl_lightning.data.world import (
    NEGATIVE_TYPES,
    World,
    WorldDataset,
    WorldIterableDataset,
    blank_image,
)
from ahnpl_lightning.data.world import dataset as dataset_module


def test_item_contents_and_determinism() -> None:
    world = World()
    a, b = WorldDataset(world, 10), WorldDataset(World(), 10)
    assert len(a) == 10
    for i in range(10):
        x, y = a[i], b[i]
        assert set(x) == {"image", "caption", "scene", "index", "negatives"}
        assert x["index"] == i and x["image"].size == (64, 64)
        assert x["image"].tobytes() == y["image"].tobytes()
        assert (x["caption"], x["scene"], x["negatives"]) == (y["caption"], y["scene"], y["negatives"])
        assert world.verify(x["caption"], x["scene"]) is True
        assert x["image"].tobytes() == world.render(x["scene"]).tobytes()
    with pytest.raises(IndexError):
        a[10]
    with pytest.raises(ValueError, match="split"):
        WorldDataset(world, 3, split="dev")


def test_image_negatives_align_with_negative_types() -> None:
    world = World()
    ds = WorldDataset(world, 30, image_negatives=True)
    valid_count = 0
    for i in range(30):
        item = ds[i]
        images, valid = item["image_negatives"], item["image_negatives_valid"]
        assert len(images) == len(valid) == len(NEGATIVE_TYPES)
        assert valid[NEGATIVE_TYPES.index("verb")] is False
        for kind, img, ok in zip(NEGATIVE_TYPES, images, valid):
            neg = item["negatives"][kind]
            cf = world.counterfactual(item["scene"], item["caption"], neg) if neg is not None else None
            assert ok == (cf is not None)
            expected = world.render(cf) if cf is not None else blank_image(64)
            assert img.tobytes() == expected.tobytes()
            valid_count += ok
    assert valid_count >= 40  # about 2.7 valid image negatives per item


def _indices(ds: WorldIterableDataset, n: int) -> list[int]:
    return [item["index"] for item in itertools.islice(iter(ds), n)]


def test_iterable_shards_by_rank_and_worker_without_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    world = World()
    seen: list[int] = []
    for rank in range(2):
        for worker in range(2):
            monkeypatch.setattr(
                dataset_module, "get_worker_info", lambda w=worker: SimpleNamespace(id=w, num_workers=2)
            )
            ds = WorldIterableDataset(world, rank=rank, world_size=2)
            assert ds.shard() == (rank * 2 + worker, 4)
            got = _indices(ds, 10)
            assert got == list(range(rank * 2 + worker, 40, 4))
            seen += got
    assert sorted(seen) == list(range(40))
    # the same index gives the same sample as the map-style dataset, whichever shard produced it
    monkeypatch.setattr(dataset_module, "get_worker_info", lambda: SimpleNamespace(id=1, num_workers=2))
    item = next(iter(WorldIterableDataset(world, rank=1, world_size=2)))
    assert item["index"] == 3 and item["caption"] == WorldDataset(world, 4)[3]["caption"]


def test_iterable_with_real_dataloader_workers() -> None:
    ds = WorldIterableDataset(World(), rank=0, world_size=1, limit=24)
    loader = DataLoader(
        ds, batch_size=None, num_workers=2, collate_fn=lambda item: item["index"], multiprocessing_context="fork"
    )
    got = list(loader)
    assert sorted(got) == list(range(24))


def test_iterable_argument_checks() -> None:
    with pytest.raises(ValueError, match="both"):
        WorldIterableDataset(World(), rank=0)
    with pytest.raises(ValueError, match="rank"):
        WorldIterableDataset(World(), rank=2, world_size=2)
