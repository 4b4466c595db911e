"""AdaptiveMargin / PositiveMargin: each mode against hand-computed numbers, clamp, EMA, lag, reset, eval, I/O."""

from __future__ import annotations

import io

import pytest
import torch

from ahnpl_lightning.margin import AdaptiveMargin, PositiveMargin, ReleasedAdaptiveMargin

# g = [3, 1, 2]; n[1, 0] is valid and exactly 0 (the released `mean` rule then treats it as invalid).
G = torch.tensor([3.0, 1.0, 2.0])
N = torch.tensor([[1.0, 0.5], [0.0, -1.0], [7.0, 4.0]])
M = torch.tensor([[True, True], [True, False], [False, True]])


def test_mean_mode_hand_computed() -> None:
    margin = AdaptiveMargin(2, mode="mean")
    # type 0: mean g = 2, valid n = {1, 0} -> 0.5, theta = 1.5 ; type 1: valid n = {0.5, 4} -> 2.25, theta = -0.25 -> 0
    theta = margin(G, N, M)
    assert torch.allclose(theta, torch.tensor([1.5, 0.0]))
    assert torch.allclose(margin.theta, torch.tensor([1.5, 0.0]))


def test_max_mode_hand_computed() -> None:
    margin = AdaptiveMargin(2, mode="max")
    # type 0: valid gaps g - n = {2, 1} -> 2 / K = 1.0 ; type 1: {2.5, -2} -> 1.25
    assert torch.allclose(margin(G, N, M), torch.tensor([1.0, 1.25]))


def test_fixed_mode_never_moves() -> None:
    margin = AdaptiveMargin(2, mode="fixed", fixed=0.7)
    assert torch.allclose(margin(G, N, M), torch.tensor([0.7, 0.7]))
    margin.reset()
    assert torch.allclose(margin.theta, torch.tensor([0.7, 0.7]))
    with pytest.raises(ValueError, match="outside"):
        AdaptiveMargin(2, mode="fixed", fixed=11.0, upper_bound=10.0)


def test_clamp_to_upper_bound_and_zero() -> None:
    margin = AdaptiveMargin(2, mode="mean", upper_bound=1.0)
    g = torch.tensor([10.0, 10.0])
    n = torch.tensor([[0.0, 20.0], [2.0, 20.0]])  # type 0: 10 - 1 = 9 -> 1 ; type 1: 10 - 20 -> 0
    assert torch.allclose(margin(g, n, torch.ones(2, 2, dtype=torch.bool)), torch.tensor([1.0, 0.0]))


def test_ema_and_type_without_valid_keeps_state() -> None:
    margin = AdaptiveMargin(2, mode="mean", ema=0.75)
    first = margin(G, N, M)  # first value after reset is taken as is: [1.5, 0]
    assert torch.allclose(first, torch.tensor([1.5, 0.0]))
    g2 = torch.tensor([4.0, 2.0])
    n2 = torch.tensor([[1.0, 9.0], [1.0, 9.0]])
    m2 = torch.tensor([[True, False], [True, False]])  # type 1 has no valid negative in this batch
    second = margin(g2, n2, m2)
    # type 0 batch value: 3 - 1 = 2 -> 0.75 * 1.5 + 0.25 * 2 = 1.625 ; type 1 keeps 0
    assert torch.allclose(second, torch.tensor([1.625, 0.0]))
    assert margin.initialized.tolist() == [True, True]


def test_uninformed_type_is_not_initialized() -> None:
    margin = AdaptiveMargin(2, mode="mean", ema=0.5)
    margin(torch.tensor([2.0]), torch.tensor([[1.0, 0.0]]), torch.tensor([[True, False]]))
    assert margin.initialized.tolist() == [True, False]
    # type 1 first seen now: taken as is (no EMA against the zero initial value): 2 - 0.5 = 1.5
    theta = margin(torch.tensor([2.0]), torch.tensor([[1.0, 0.5]]), torch.tensor([[True, True]]))
    assert torch.allclose(theta, torch.tensor([0.5 * 1.0 + 0.5 * 1.0, 1.5]))


def test_released_lag_and_nonzero_validity() -> None:
    margin = ReleasedAdaptiveMargin(2, mode="mean")
    first = margin(G, N, M)
    assert torch.allclose(first, torch.zeros(2))  # step t uses theta of step t-1 (0 after reset)
    # released `mean` treats the valid n[1,0] == 0 as invalid: type 0 mean n = 1 -> theta 2 - 1 = 1
    second = margin(G, N, M)
    assert torch.allclose(second, torch.tensor([1.0, 0.0]))
    margin.reset()
    assert torch.allclose(margin(G, N, M), torch.zeros(2))


def test_released_max_counts_invalid_entries_as_zero_gap() -> None:
    margin = ReleasedAdaptiveMargin(2, mode="max")
    g = torch.tensor([1.0, 1.0])
    n = torch.tensor([[3.0, 0.5], [9.0, 9.0]])
    m = torch.tensor([[True, True], [False, False]])
    margin(g, n, m)
    # type 0: gaps {1-3, 0 (invalid)} -> 0 ; type 1: {0.5, 0} -> 0.5 / 2
    assert torch.allclose(margin.theta, torch.tensor([0.0, 0.25]))


def test_eval_mode_does_not_update() -> None:
    margin = AdaptiveMargin(2, mode="mean").eval()
    assert torch.allclose(margin(G, N, M), torch.tensor([1.5, 0.0]))  # corrected eval still uses the batch value
    assert torch.allclose(margin.theta, torch.zeros(2))
    assert margin.initialized.tolist() == [False, False]
    released = ReleasedAdaptiveMargin(2, mode="mean").eval()
    released(G, N, M)
    assert torch.allclose(released.theta, torch.zeros(2))


def test_state_dict_round_trip() -> None:
    margin = AdaptiveMargin(2, mode="mean", ema=0.5)
    margin(G, N, M)
    buffer = io.BytesIO()
    torch.save(margin.state_dict(), buffer)
    buffer.seek(0)
    restored = AdaptiveMargin(2, mode="mean", ema=0.5)
    restored.load_state_dict(torch.load(buffer))
    assert torch.equal(restored.theta, margin.theta)
    assert torch.equal(restored.initialized, margin.initialized)
    assert set(margin.state_dict()) == {"theta", "initialized"}
    g2, n2 = G + 1.0, N * 0.5
    assert torch.allclose(restored(g2, n2, M), margin(g2, n2, M))


def test_positive_margin_quantile_ema_eval_reset_round_trip() -> None:
    pm = PositiveMargin(quantile=0.5, ema=0.5)
    assert torch.allclose(pm(torch.tensor([5.0, 1.0, 3.0])), torch.tensor(3.0))  # median, first value as is
    assert torch.allclose(pm(torch.tensor([9.0, 7.0, 8.0])), torch.tensor(0.5 * 3.0 + 0.5 * 8.0))
    pm.eval()
    assert torch.allclose(pm(torch.tensor([0.0, 0.0, 0.0])), torch.tensor(0.5 * 5.5))
    assert torch.allclose(pm.alpha, torch.tensor(5.5))
    restored = PositiveMargin(quantile=0.5, ema=0.5)
    restored.load_state_dict(pm.state_dict())
    assert torch.equal(restored.alpha, pm.alpha) and bool(restored.initialized)
    pm.train().reset()
    assert float(pm.alpha) == 0.0 and not bool(pm.initialized)
    q = PositiveMargin(quantile=0.25)
    # torch.quantile interpolates linearly: sorted [1, 3, 5, 7], position 0.75 -> 1 + 0.75 * 2 = 2.5
    assert torch.allclose(q(torch.tensor([7.0, 1.0, 5.0, 3.0])), torch.tensor(2.5))


def test_deprecated_variant_argument_builds_the_released_margin() -> None:
    with pytest.warns(DeprecationWarning, match="ReleasedAdaptiveMargin"):
        margin = AdaptiveMargin(2, mode="mean", variant="released")
    assert type(margin) is ReleasedAdaptiveMargin and margin.variant == "released"
    assert torch.allclose(margin(G, N, M), torch.zeros(2))  # lagged, as the released computation is
    assert type(AdaptiveMargin(2, variant="corrected")) is AdaptiveMargin



def test_masked_entries_cannot_poison_theta() -> None:
    """Invalid entries are selected away, not multiplied: a NaN there leaves theta finite (NaN * 0 = NaN)."""
    n = N.clone()
    n[2, 0] = float("nan")  # invalid entry (M[2, 0] is False)
    n[1, 1] = float("inf")  # invalid entry
    for cls in (AdaptiveMargin, ReleasedAdaptiveMargin):
        for mode in ("mean", "max"):
            margin = cls(2, mode=mode)
            margin(G, n, M)
            assert torch.isfinite(margin.theta).all(), (cls.__name__, mode, margin.theta)
            assert torch.equal(margin.theta, _theta_after(cls, mode, N)), (cls.__name__, mode)


def _theta_after(cls: type[AdaptiveMargin], mode: str, n: torch.Tensor) -> torch.Tensor:
    margin = cls(2, mode=mode)
    margin(G, n, M)
    return margin.theta
