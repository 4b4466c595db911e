"""The negatives cache: versioned (an old cache is rebuilt, never mixed), written with the umask's permissions,
fitted on the captions it processes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _data_fixtures import negclip_fixture

from ahnpl_lightning.data.negatives import (
    GENERATOR_VERSION,
    NegativeGenerator,
    SlotModel,
    build_negatives_cache,
    ensure_negatives_cache,
    load_negatives_cache,
)
from ahnpl_lightning.data.sources import NegCLIPSource

CAPTIONS = ["A dog chasing a cat on the grass.", "A red circle above a blue square."]


def _rewrite_version(path: Path, version: str) -> None:
    """Make ``path`` look like a cache written by generator ``version`` (its rows left as they are)."""
    table = pq.read_table(path)
    meta = dict(table.schema.metadata)
    meta[b"ahnpl_negatives_version"] = version.encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def test_a_cache_of_another_version_has_no_usable_rows_and_is_rebuilt(tmp_path: Path) -> None:
    path = build_negatives_cache(CAPTIONS, tmp_path / "neg.parquet", progress=False, tagger="builtin")
    _rewrite_version(path, "3")
    with pytest.warns(UserWarning, match="generator version 3"):
        stale = load_negatives_cache(path)
    assert len(stale) == 0 and stale.attrs["ahnpl_negatives_stale"] == "1"
    assert len(load_negatives_cache(path, current_only=False)) == 2  # still readable on request
    with pytest.warns(UserWarning):
        frame = ensure_negatives_cache(CAPTIONS, path, progress=False, tagger="builtin")
    assert frame.attrs["ahnpl_negatives_version"] == GENERATOR_VERSION and len(frame) == 2


def test_sources_rebuild_an_old_cache(tmp_path: Path) -> None:
    """A training source meeting a cache of the previous generator rebuilds it instead of reusing old negatives."""
    fx = negclip_fixture(tmp_path, rows=4, missing_every=99)
    source = NegCLIPSource(str(fx["annotations"]), str(fx["image_root"]), negatives="cache", seed=3)
    source.prepare()
    cache = tmp_path / "negclip_train.negatives.parquet"
    _rewrite_version(cache, "3")
    with pytest.warns(UserWarning, match="generator version 3"):
        source.prepare()
    frame = load_negatives_cache(cache)
    assert frame.attrs["ahnpl_negatives_version"] == GENERATOR_VERSION and len(frame) == 4


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_cache_honours_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    old = os.umask(umask)
    try:
        path = build_negatives_cache(CAPTIONS[:1], tmp_path / "neg.parquet", progress=False, tagger="builtin")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_fitting_adds_the_corpus_to_the_shipped_table(tmp_path: Path) -> None:
    captions = ["A zebra grazing next to a giraffe.", "A giraffe grazing next to a zebra."] * 3
    generator = NegativeGenerator(seed=0, tagger="builtin").fit(captions)
    shipped = SlotModel.shipped()
    assert generator.slots.n_captions == shipped.n_captions + len(captions)
    assert generator.slots.count("n|subj|graze", "zebra") == shipped.count("n|subj|graze", "zebra") + 3
    path = build_negatives_cache(captions, tmp_path / "neg.parquet", progress=False, tagger="builtin", fit=True)
    frame = load_negatives_cache(path)
    assert frame.attrs["ahnpl_slot_model"] == generator.slots.fingerprint != shipped.fingerprint
    assert frame.attrs["ahnpl_slot_captions"] == str(generator.slots.n_captions)
    assert frame["noun"].tolist() == [generator.generate(c)["noun"] for c in captions]


def test_small_inputs_use_the_shipped_table(tmp_path: Path) -> None:
    frame = load_negatives_cache(build_negatives_cache(CAPTIONS, tmp_path / "n.parquet", progress=False,
                                                       tagger="builtin"))
    assert frame.attrs["ahnpl_slot_model"] == SlotModel.shipped().fingerprint


def test_slot_tables_round_trip_and_bad_files_are_named(tmp_path: Path) -> None:
    model = NegativeGenerator(seed=0, tagger="builtin", slots=SlotModel()).fit(CAPTIONS).slots
    path = model.save(tmp_path / "slots.json.gz")
    again = SlotModel.load(path)
    assert again.counts == model.counts and again.fingerprint == model.fingerprint
    assert path.read_bytes() == model.save(tmp_path / "again.json.gz").read_bytes()  # deterministic bytes
    (tmp_path / "bad.json.gz").write_text("not gzip")
    with pytest.raises(ValueError, match="bad.json.gz: not a slot-count table"):
        SlotModel.load(tmp_path / "bad.json.gz")


@pytest.mark.slow
def test_pool_workers_use_the_fitted_model(tmp_path: Path) -> None:
    captions = ["A man riding a horse on a beach.", "A woman leading a horse down a road."] * 3
    serial = build_negatives_cache(captions, tmp_path / "a.parquet", workers=1, progress=False, tagger="builtin",
                                   fit=True)
    pooled = build_negatives_cache(captions, tmp_path / "b.parquet", workers=2, progress=False, tagger="builtin",
                                   fit=True, chunk_size=2)
    assert load_negatives_cache(serial).equals(load_negatives_cache(pooled))
