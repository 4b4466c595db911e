"""Under torch.distributed (2 CPU processes, gloo) the sharded evaluation equals the single-process one exactly, and
the shards partition the distinct images/captions (nothing encoded twice, nothing padded)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from _eval_helpers import BowEncoder, build_all

from ahnpl_lightning.evaluation import evaluate_benchmarks
from ahnpl_lightning.model import create_model_and_transforms

NAMES = ["aro", "valse", "vl_checklist", "sugarcrepe", "winoground", "retrieval"]


def _worker(rank: int, world: int, init_file: str, root: str, out_dir: str, bundle) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        enc = BowEncoder()
        bow = evaluate_benchmarks(NAMES, None, None, None, root, encoder=enc, progress=False)
        real = evaluate_benchmarks(NAMES, bundle.model, bundle.preprocess_val, bundle.tokenizer, root, batch_size=3,
                                   device="cpu", progress=False)
        seen = {"images": [[r.path, r.bbox] for r in enc.images_seen], "texts": enc.texts_seen}
        Path(out_dir, f"{rank}.json").write_text(json.dumps({"bow": bow, "real": real, "seen": seen}))
    finally:
        dist.destroy_process_group()


def test_ddp_two_processes_equal_single_process(tmp_path):
    root = build_all(tmp_path / "root")
    torch.manual_seed(0)
    bundle = create_model_and_transforms("AHNPL-Tiny-64", pretrained=None)
    enc = BowEncoder()
    single_bow = evaluate_benchmarks(NAMES, None, None, None, root, encoder=enc, progress=False)
    single_real = evaluate_benchmarks(NAMES, bundle.model, bundle.preprocess_val, bundle.tokenizer, root,
                                      batch_size=8, device="cpu", progress=False)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    mp.start_processes(_worker, args=(2, str(tmp_path / "init"), str(root), str(out_dir), bundle), nprocs=2,
                       start_method="fork")
    ranks = [json.loads((out_dir / f"{r}.json").read_text()) for r in range(2)]
    # json round trip for a like-for-like comparison (tuples become lists); `run` holds times, so it differs
    for key in ("benchmarks", "skipped"):
        assert all(r["bow"][key] == json.loads(json.dumps(single_bow[key])) for r in ranks)
        assert all(r["real"][key] == json.loads(json.dumps(single_real[key])) for r in ranks)
    images = [tuple(map(str, i)) for r in ranks for i in r["seen"]["images"]]
    texts = [t for r in ranks for t in r["seen"]["texts"]]
    assert len(images) == len(set(images)) == len(enc.images_seen)  # a partition: no padding duplicates
    assert len(texts) == len(set(texts)) == len(enc.texts_seen)
    assert all(r["seen"]["texts"] for r in ranks)  # both ranks did work
