"""The negatives cache: one Parquet row per caption with a column per type, written atomically.

``build_negatives_cache`` fits the slot model on the captions it processes, generates (optionally in a process pool)
and writes; ``load_negatives_cache`` reads it back with its metadata (generator version, seed, slot model) in
``DataFrame.attrs``. A cache written by another generator version holds no usable rows: it is rebuilt, never mixed
with new negatives (``ensure_negatives_cache`` does both steps).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ahnpl_lightning.data.negatives.generator import GENERATOR_VERSION, NegativeGenerator
from ahnpl_lightning.data.negatives.slots import SlotModel
from ahnpl_lightning.types import ALL_TYPES

__all__ = ["build_negatives_cache", "load_negatives_cache", "ensure_negatives_cache", "cache_is_current",
           "check_writable", "MIN_FIT_CAPTIONS"]

#: Below this many captions the cache builder does not fit the slot model (the shipped table says more).
MIN_FIT_CAPTIONS = 1000
_WORKER: NegativeGenerator | None = None


def _worker_init(seed: int, tagger: str, slots: SlotModel) -> None:
    global _WORKER
    _WORKER = NegativeGenerator(seed=seed, tagger=tagger, slots=slots)


def _worker_chunk(captions: list[str]) -> list[dict[str, str | None]]:
    assert _WORKER is not None
    return _WORKER.generate_many(captions)


def _worker_fit(captions: list[str]) -> tuple[SlotModel, list[set[str]]]:
    """Slot counts of ``captions`` and each caption's content lemmas (for the parent's same-image counts)."""
    assert _WORKER is not None
    model = SlotModel()
    words: list[set[str]] = []
    for caption in captions:
        parsed, roles = _WORKER.analyse(caption)
        model.observe(parsed, roles, _WORKER.lexclass)
        words.append({u.lemma for u in roles.units} | {v.lemma for v in roles.verbs})
    return model, words


def _fit_in_pool(generator: NegativeGenerator, captions: list[str], groups: list[object] | None, workers: int,
                 chunk_size: int, tagger: str, seed: int, progress: bool) -> None:
    """``generator.fit`` with the counting spread over ``workers`` processes (the same counts, merged)."""
    import multiprocessing

    from tqdm import tqdm

    fitted = SlotModel()
    per_caption: list[set[str]] = []
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_worker_init, initargs=(seed, tagger, SlotModel())) as pool, tqdm(
            total=len(captions), desc="slot model", unit="caption", disable=not progress) as bar:
        for model, words in pool.imap(_worker_fit, _chunks(captions, chunk_size)):
            fitted = fitted.merged(model) if fitted.counts else model
            per_caption += words
            bar.update(len(words))
    if groups is not None:
        by_group: dict[object, list[set[str]]] = {}
        for key, words in zip(groups, per_caption):
            by_group.setdefault(key, []).append(words)
        for captions_words in by_group.values():
            if len(captions_words) > 1:
                fitted.observe_group(captions_words)
    generator.slots = generator.slots.merged(fitted)
    generator.candidates = type(generator.candidates)(generator)


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield list(items[i:i + size])


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(output: str | Path) -> tuple[int, str]:
    """Create ``output``'s folder and a temporary file beside it, so that an unwritable destination fails before
    any work, naming the path. Returns the open temporary file (descriptor, name) the cache will be written to."""
    output = Path(output)
    if output.is_dir():
        raise IsADirectoryError(f"{output}: is a folder; give the Parquet file to write, "
                                f"e.g. {output}/negatives.parquet")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    except OSError as err:
        raise PermissionError(f"{output}: cannot write the negatives cache there ({err.strerror or err}); "
                              "choose a writable --output") from err
    return fd, tmp


def build_negatives_cache(records: Sequence[Any], output: str | Path, workers: int = 1, seed: int = 0,
                          tagger: str = "auto", progress: bool = True, chunk_size: int = 256,
                          extra_metadata: dict[str, str] | None = None, fit: bool | None = None) -> Path:
    """Generate negatives for ``records`` (``CaptionRecord``s or plain caption strings) into a Parquet file.

    One row per caption: ``image_id``, ``caption_id``, ``image_path``, ``location``, ``caption`` and one column
    per type in ``ALL_TYPES`` (null where invalid). With ``fit`` the slot model is fitted on these captions (grouped
    by ``image_id`` where records have one) on top of the shipped table; by default (``None``) when there are at
    least ``MIN_FIT_CAPTIONS`` of them (fewer say little next to the shipped table). The generator version,
    seed and slot model go in the Parquet metadata. The destination is checked before any work; the file is written
    to a temporary name, given the permissions of the umask, and moved into place, so a failure never leaves a
    partial file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm import tqdm

    output = Path(output)
    fd, tmp = check_writable(output)
    os.close(fd)
    try:
        captions = [r if isinstance(r, str) else r.caption for r in records]
        generator = NegativeGenerator(seed=seed, tagger=tagger)
        if fit or fit is None and len(captions) >= MIN_FIT_CAPTIONS:
            groups = None if isinstance(records[0], str) else [
                r.image_id if getattr(r, "image_id", None) is not None else f"#{i}" for i, r in enumerate(records)]
            if workers > 1:
                _fit_in_pool(generator, captions, groups, workers, chunk_size * 4, tagger, seed, progress)
            else:
                generator.fit(tqdm(captions, desc="slot model", unit="caption", disable=not progress), groups)
        results: list[dict[str, str | None]] = []
        with tqdm(total=len(captions), desc="negatives", unit="caption", disable=not progress) as bar:
            if workers <= 1:
                for chunk in _chunks(captions, chunk_size):
                    results.extend(generator.generate_many(chunk))
                    bar.update(len(chunk))
            else:
                import multiprocessing

                ctx = multiprocessing.get_context("spawn")
                with ctx.Pool(workers, initializer=_worker_init, initargs=(seed, tagger, generator.slots)) as pool:
                    for chunk_result in pool.imap(_worker_chunk, _chunks(captions, chunk_size)):
                        results.extend(chunk_result)
                        bar.update(len(chunk_result))

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
                    "ahnpl_negative_types": ",".join(ALL_TYPES), "ahnpl_slot_model": generator.slots.fingerprint,
                    "ahnpl_slot_captions": str(generator.slots.n_captions), **(extra_metadata or {})}
        table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                               **{k.encode(): v.encode() for k, v in metadata.items()}})
        pq.write_table(table, tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: a shared dataset folder needs the umask's mode
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return output


def cache_is_current(frame: Any, seed: int | None = None) -> bool:
    """Whether a loaded cache was written by this generator version (and, if given, with ``seed``)."""
    attrs = frame.attrs
    return attrs.get("ahnpl_negatives_version") == GENERATOR_VERSION and (
        seed is None or attrs.get("ahnpl_negatives_seed") == str(seed))


def load_negatives_cache(path: str | Path, current_only: bool = True) -> Any:
    """Read a cache written by ``build_negatives_cache`` as a pandas DataFrame; ``df.attrs`` holds its metadata.

    With ``current_only`` (the default) a cache written by another generator version yields no rows (a warning
    says so, ``df.attrs["ahnpl_negatives_stale"]`` is set), so callers that rebuild missing captions rebuild it
    instead of mixing old and new negatives.
    """
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    frame = table.to_pandas()
    meta = table.schema.metadata or {}
    frame.attrs.update({k.decode(): v.decode() for k, v in meta.items() if k.decode().startswith("ahnpl_")})
    missing = [c for c in ("caption", *ALL_TYPES) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: not a negatives cache (missing columns {missing})")
    if current_only and not cache_is_current(frame):
        version = frame.attrs.get("ahnpl_negatives_version", "unknown")
        warnings.warn(f"{path}: written by negatives generator version {version}, this is {GENERATOR_VERSION}; "
                      "its rows are not used (the cache is rebuilt)", stacklevel=2)
        attrs = dict(frame.attrs)
        frame = frame.iloc[0:0].copy()
        frame.attrs.update(attrs, ahnpl_negatives_stale="1")
    return frame


def ensure_negatives_cache(records: Sequence[Any], path: str | Path, seed: int = 0, **build: Any) -> Any:
    """The cache at ``path`` for ``records``: loaded when it is current (version and seed) and covers every caption,
    else (re)built with ``build_negatives_cache(records, path, seed=seed, **build)``."""
    path = Path(path)
    captions = {r if isinstance(r, str) else r.caption for r in records}
    if path.exists():
        frame = load_negatives_cache(path)
        if cache_is_current(frame, seed) and captions <= set(frame["caption"]):
            return frame
    build_negatives_cache(records, path, seed=seed, **build)
    return load_negatives_cache(path)
