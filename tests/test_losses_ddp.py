"""AHNPLLoss under DDP (2 forked CPU processes, gloo) equals one process holding the whole global batch.

Tiny linear "encoders" wrapped in DistributedDataParallel; after DDP's gradient averaging, loss, parameter gradients
and the margin state must match the single-process run on the concatenated batch (atol 1e-5), over two optimiser
steps, for the corrected variant with every term on (with perturbed, reflected, retrieved and real image negatives, the
latter with their own mask), CLIP, NegCLIP and the released variant.

With padding (`padded`): the ranks hold unequal numbers of samples, their other rows padding (`sample_mask` False,
holding arbitrary finite values, as blank rows for unreadable images do), and at the second step one rank holds
padding only. DDP must then equal one process holding only the valid rows (loss, encoder gradients, margin state),
and no rank may hang.
"""

from __future__ import annotations

import multiprocessing as mp
import socket
import traceback
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ahnpl_lightning.losses import AHNPLLoss

WORLD = 2
B, K, IMG, TXT, D = 8, 5, 6, 5, 4  # global batch 8 = 2 ranks x 4
CONFIGS: dict[str, dict] = {
    "corrected_all": {
        "positive_weight": 0.2, "ceclip_intra_weight": 0.3, "ceclip_cross_weight": 0.2, "margin_ema": 0.5,
    },
    "corrected_real_image_negatives": {"positive_weight": 0.2, "margin_threshold": "max"},
    "corrected_real_masked_image_negatives_reflect": {"image_negative_scheme": "reflect"},
    "corrected_reflect": {"image_negative_scheme": "reflect"},
    "corrected_retrieve": {"image_negative_scheme": "retrieve"},
    "clip": {"itc_negatives": False, "mhn_weight": 0.0, "margin_weight": 0.0},
    "negclip": {"mhn_weight": 0.0, "margin_weight": 0.0},
    "released": {"loss_variant": "released", "renormalize": False},
}


class TinyDualEncoder(nn.Module):
    """Linear image and text encoders plus open_clip's logit_scale parameter."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.image = nn.Linear(IMG, D, dtype=torch.float64)
        self.text = nn.Linear(TXT, D, dtype=torch.float64)
        self.logit_scale = nn.Parameter(torch.tensor(2.0, dtype=torch.float64))

    def forward(self, images, captions, negatives, neg_images=None):
        v = F.normalize(self.image(images), dim=-1)
        t = F.normalize(self.text(captions), dim=-1)
        tn = F.normalize(self.text(negatives), dim=-1)
        vn = None if neg_images is None else F.normalize(self.image(neg_images), dim=-1)
        return v, t, tn, vn, self.logit_scale.exp()


def global_batches() -> list[tuple[torch.Tensor, ...]]:
    """Two steps of global data: images, captions, negatives, mask (some rows all-invalid), negative images."""
    gen = torch.Generator().manual_seed(123)
    out = []
    for _ in range(2):
        mask = torch.rand(B, K, generator=gen) > 0.35
        mask[1] = False
        mask[6] = False
        out.append((
            torch.randn(B, IMG, generator=gen, dtype=torch.float64),
            torch.randn(B, TXT, generator=gen, dtype=torch.float64),
            torch.randn(B, K, TXT, generator=gen, dtype=torch.float64),
            mask,
            torch.randn(B, K, IMG, generator=gen, dtype=torch.float64),
        ))
    return out


# Which rows hold samples in the padded runs, per step: rank 0 rows 0-3, rank 1 rows 4-7 (rank 1 all padding at step 1).
SAMPLE_MASKS = (
    torch.tensor([True, False, True, True, True, True, False, True]),
    torch.tensor([True, True, True, True, False, False, False, False]),
)


def run_steps(model: nn.Module, loss: AHNPLLoss, batches, real_negatives: bool | str,
              sample_masks=None) -> dict[str, torch.Tensor]:
    """Two SGD steps; record each step's loss, gradients and margin state."""
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    record: dict[str, torch.Tensor] = {}
    for step, (images, captions, negatives, mask, neg_images) in enumerate(batches):
        opt.zero_grad()
        v, t, tn, vn, scale = model(images, captions, negatives, neg_images if real_negatives else None)
        image_mask = None
        if real_negatives == "masked":  # real images for every other type only; the scheme fills the rest
            image_mask = mask & (torch.arange(mask.shape[1]) % 2 == 0)
        rows = None if sample_masks is None else sample_masks[step]
        out = loss(v, t, tn, mask, scale, image_negative_features=vn, image_negative_mask=image_mask,
                   sample_mask=rows)
        out["loss"].backward()
        record[f"{step}/loss"] = out["loss"].detach().clone()
        for key in ("margin/relation", "margin/verb", "positive_margin", "active/noun"):
            record[f"{step}/{key}"] = out[key].clone()
        for name, param in model.named_parameters():
            record[f"{step}/grad/{name.removeprefix('module.')}"] = param.grad.detach().clone()
        opt.step()
    record["theta"] = loss.margin.theta.clone()
    return record


def _real_negatives(name: str) -> bool | str:
    return "masked" if "real_masked" in name else "real" in name


def _worker(rank: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
        shard = slice(rank * B // WORLD, (rank + 1) * B // WORLD)
        local = [tuple(x[shard] for x in batch) for batch in global_batches()]
        local_masks = [mask[shard] for mask in SAMPLE_MASKS]
        for name, config in CONFIGS.items():
            for padded in (False, True):
                model = DistributedDataParallel(TinyDualEncoder())
                loss = AHNPLLoss(**config)
                record = run_steps(model, loss, local, real_negatives=_real_negatives(name),
                                   sample_masks=local_masks if padded else None)
                torch.save(record, Path(out_dir) / f"{name}{'_padded' if padded else ''}_rank{rank}.pt")
        dist.destroy_process_group()
    except Exception:  # report to the parent instead of dying silently
        (Path(out_dir) / f"error_rank{rank}.txt").write_text(traceback.format_exc())
        raise


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("ddp")
    ctx = mp.get_context("fork")
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(rank, port, str(out_dir))) for rank in range(WORLD)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=90)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
            proc.join()
    errors = sorted(out_dir.glob("error_rank*.txt"))
    assert not errors, errors[0].read_text()
    assert all(proc.exitcode == 0 for proc in procs), [proc.exitcode for proc in procs]
    return out_dir


def valid_rows_only() -> list[tuple[torch.Tensor, ...]]:
    """The global batches with the padding rows dropped: what one process holding only the samples sees."""
    return [tuple(x[rows] for x in batch) for batch, rows in zip(global_batches(), SAMPLE_MASKS)]


@pytest.mark.parametrize("padded", [False, True], ids=["full", "padded"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_ddp_equals_single_process(ddp_records: Path, name: str, padded: bool) -> None:
    reference = AHNPLLoss(**CONFIGS[name], gather_distributed=False)  # one process, the whole global batch
    batches = valid_rows_only() if padded else global_batches()
    single = run_steps(TinyDualEncoder(), reference, batches, real_negatives=_real_negatives(name))
    for rank in range(WORLD):
        ddp = torch.load(ddp_records / f"{name}{'_padded' if padded else ''}_rank{rank}.pt")
        assert set(ddp) == set(single)
        mismatched = [k for k, want in single.items() if not torch.allclose(ddp[k].to(want.dtype), want, atol=1e-5)]
        assert not mismatched, (name, rank, mismatched)
    # the comparison is not vacuous: the encoders do get gradient and the margin state moved
    assert single["0/grad/image.weight"].abs().sum() > 0 and single["1/grad/text.weight"].abs().sum() > 0
    if CONFIGS[name].get("margin_weight", 0.2) > 0 and not padded:  # (on the valid rows alone theta may clamp to 0)
        assert single["theta"].abs().sum() > 0
