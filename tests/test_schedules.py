"""The lambda and learning-rate schedules of Ganin et al. (2016, section 5.2.2)."""

import math

import pytest

from skdann import ganin_lambda, ganin_lr_factor
from skdann._schedules import resolve_lambda_schedule, resolve_lr_schedule


def test_lambda_rises_from_zero_to_almost_one():
    assert ganin_lambda(0.0) == 0.0
    assert ganin_lambda(0.5) == pytest.approx(2 / (1 + math.exp(-5)) - 1)
    assert 0.9999 < ganin_lambda(1.0) < 1.0
    values = [ganin_lambda(p / 10) for p in range(11)]
    assert values == sorted(values)


def test_lr_factor_follows_the_paper():
    assert ganin_lr_factor(0.0) == 1.0
    assert ganin_lr_factor(1.0) == pytest.approx(1 / 11**0.75)
    assert ganin_lr_factor(0.3, alpha=1.0, beta=1.0) == pytest.approx(1 / 1.3)


def test_named_and_callable_schedules_resolve():
    assert resolve_lambda_schedule("constant", 10.0)(0.0) == 1.0
    assert resolve_lambda_schedule("ganin", 10.0)(0.5) == ganin_lambda(0.5)
    assert resolve_lambda_schedule(lambda p: p * p, 10.0)(0.5) == 0.25
    assert resolve_lr_schedule(None, 10.0, 0.75)(0.9) == 1.0
    assert resolve_lr_schedule("ganin", 10.0, 0.75)(0.9) == ganin_lr_factor(0.9)


@pytest.mark.parametrize("bad", ["linear", 3, None])
def test_unknown_lambda_schedule_is_a_value_error(bad):
    with pytest.raises(ValueError, match="lambda_schedule"):
        resolve_lambda_schedule(bad, 10.0)


def test_unknown_lr_schedule_is_a_value_error():
    with pytest.raises(ValueError, match="lr_schedule"):
        resolve_lr_schedule("cosine", 10.0, 0.75)
