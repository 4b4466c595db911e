"""The negatives cache: one Parquet row per caption with a column per type, written atomically.

``build_negatives_cache`` generates (optionally in a process pool) and writes; ``load_negatives_cache`` reads it back
with its metadata (generator version, seed) in ``DataFrame.attrs``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ahnpl_lightning.data.negatives.generator import GENERATOR_VERSION, NegativeGenerator
from ahnpl_lightning.types import ALL_TYPES

__all__ = ["build_negatives_cache", "load_negatives_cache"]

_WORKER: NegativeGenerator | None = None


def _worker_init(seed: int, tagger: str) -> None:
    global _WORKER
    _WORKER = NegativeGenerator(seed=seed, tagger=tagger)


def _worker_chunk(captions: list[str]) -> list[dict[str, str | None]]:
    assert _WORKER is not None
    return _WORKER.generate_many(captions)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def build_negatives_cache(records: Sequence[Any], output: str | Path, workers: int = 1, seed: int = 0,
                          tagger: str = "auto", progress: bool = True, chunk_size: int = 256,
                          extra_metadata: dict[str, str] | None = None) -> Path:
    """Generate negatives for ``records`` (``CaptionRecord``s or plain caption strings) into a Parquet file.

    One row per caption: ``image_id``, ``caption_id``, ``image_path``, ``location``, ``caption`` and one column
    per type in ``ALL_TYPES`` (null where invalid). The generator version and seed go in the Parquet metadata.
    The file is written to a temporary name and moved into place, so a failure never leaves a partial file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    output = Path(output)
    captions = [r if isinstance(r, str) else r.caption for r in records]
    results: list[dict[str, str | None]] = []
    bar = tqdm(total=len(captions), desc="negatives", unit="caption", disable=not progress)
    try:
        if workers <= 1:
            generator = NegativeGenerator(seed=seed, tagger=tagger)
            for chunk in _chunks(captions, chunk_size):
                results.extend(generator.generate_many(chunk))
                bar.update(len(chunk))
        else:
            import multiprocessing

            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(workers, initializer=_worker_init, initargs=(seed, tagger)) as pool:
                for chunk_result in pool.imap(_worker_chunk, _chunks(captions, chunk_size)):
                    results.extend(chunk_result)
                    bar.update(len(chunk_result))
    finally:
        bar.close()

    def field(name: str) -> list[str | None]:
        if records and isinstance(records[0], str):
            return [None] * len(captions)
        values = [getattr(r, name, None) for r in records]
        return [None if v is None else str(v) for v in values]

    columns: dict[str, list[Any]] = {
        "image_id": field("image_id"), "caption_id": field("caption_id"), "image_path": field("image_path"),
        "location": field("location"), "caption": captions,
    }
    for kind in ALL_TYPES:
        columns[kind] = [r[kind] for r in results]
    table = pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()})
    metadata = {"ahnpl_negatives_version": GENERATOR_VERSION, "ahnpl_negatives_seed": str(seed),
                "ahnpl_negative_types": ",".join(ALL_TYPES), **(extra_metadata or {})}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode()
                                                                               for k, v in metadata.items()}})
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


def load_negatives_cache(path: str | Path) -> Any:
    """Read a cache written by ``build_negatives_cache`` as a pandas DataFrame; ``df.attrs`` holds its metadata."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    meta = table.schema.metadata or {}
    frame.attrs.update({k.decode(): v.decode() for k, v in meta.items() if k.decode().startswith("ahnpl_")})
    missing = [c for c in ("caption", *ALL_TYPES) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a negatives cache (missing columns {missing})")
    return frame
