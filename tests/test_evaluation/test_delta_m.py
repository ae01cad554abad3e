"""Δm (Maninis et al. 2019) and the metric-direction table."""
import math

import pytest

from jdbench.evaluation.functional import (DEPTH_METRICS, METRIC_DIRECTIONS, SEG_METRICS, delta_m,
                                           relative_gains)


def test_directions_table():
    assert {k for k, s in METRIC_DIRECTIONS.items() if s > 0} == {'mIoU', 'pixel_acc', 'd1', 'd2', 'd3'}
    assert {k for k, s in METRIC_DIRECTIONS.items() if s < 0} == {
        'abs_err', 'rel_err', 'abs_rel', 'sq_rel', 'rmse', 'rmse_log'}
    assert set(METRIC_DIRECTIONS) == set(SEG_METRICS) | set(DEPTH_METRICS)


def test_better_on_both_is_positive():
    # +10 % mIoU and -10 % depth error -> +10 %
    assert delta_m(dict(mIoU=55.0, abs_err=0.9), dict(mIoU=50.0, abs_err=1.0)) == pytest.approx(10.0)


def test_worse_on_both_is_negative():
    assert delta_m(dict(mIoU=45.0, abs_err=1.1), dict(mIoU=50.0, abs_err=1.0)) == pytest.approx(-10.0)


def test_trade_off_cancels():
    # +10 % mIoU but +10 % error -> 0
    assert delta_m(dict(mIoU=55.0, abs_err=1.1), dict(mIoU=50.0, abs_err=1.0)) == pytest.approx(0.0)


def test_average_over_the_reference_metric_set():
    metrics = dict(mIoU=60.0, pixel_acc=80.0, abs_err=0.5, rel_err=0.2, rmse=9.0)  # rmse not in the reference
    reference = dict(mIoU=50.0, pixel_acc=80.0, abs_err=0.4, rel_err=0.25)
    gains = relative_gains(metrics, reference)
    assert list(gains) == ['mIoU', 'pixel_acc', 'abs_err', 'rel_err']
    assert gains == pytest.approx(dict(mIoU=20.0, pixel_acc=0.0, abs_err=-25.0, rel_err=20.0))
    assert delta_m(metrics, reference) == pytest.approx((20.0 + 0.0 - 25.0 + 20.0) / 4)


def test_identical_to_reference_is_zero_and_delta_fractions():
    ref = dict(d1=0.8, rmse_log=0.2)
    assert delta_m(ref, ref) == 0.0
    assert delta_m(dict(d1=0.88, rmse_log=0.2), ref) == pytest.approx(5.0)


def test_unknown_metric_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['aAcc'\].*known metrics.*mIoU"):
        delta_m(dict(aAcc=1.0), dict(aAcc=1.0))


def test_missing_metric_is_named():
    with pytest.raises(ValueError, match=r"\['abs_err'\] missing"):
        delta_m(dict(mIoU=50.0), dict(mIoU=50.0, abs_err=1.0))


@pytest.mark.parametrize('bad', [0.0, math.nan, math.inf])
def test_degenerate_reference(bad):
    with pytest.raises(ValueError, match='finite and non-zero'):
        delta_m(dict(mIoU=50.0), dict(mIoU=bad))
    with pytest.raises(ValueError, match='empty'):
        delta_m(dict(mIoU=50.0), {})
