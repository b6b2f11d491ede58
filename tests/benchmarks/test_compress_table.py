"""benchmarks/compress_table.py: the paired accuracy interval and the target's verdict."""

import math
import statistics

import numpy as np
import pytest

from benchmarks.compress_table import paired_difference_interval, verdict


def test_paired_interval_equals_the_normal_interval_of_the_differences():
    before = np.ones(200, bool)
    after = before.copy()
    after[:12] = False  # 12 samples lost
    before[150:155] = False  # 5 samples gained (after is right where before was wrong)
    d = after.astype(int) - before.astype(int)
    mean, lo, hi = paired_difference_interval(before, after)
    half = 1.959963984540054 * statistics.stdev(d.tolist()) / math.sqrt(200)
    assert mean == pytest.approx((5 - 12) / 200, abs=1e-15)
    assert lo == pytest.approx(mean - half, rel=1e-9) and hi == pytest.approx(mean + half, rel=1e-9)
    wider = paired_difference_interval(before, after, level=0.99)
    assert wider[1] < lo and wider[2] > hi  # a higher level gives a wider interval


def test_paired_interval_is_a_point_when_no_sample_changed():
    x = np.random.default_rng(0).random(50) < 0.7
    assert paired_difference_interval(x, x.copy()) == (0.0, 0.0, 0.0)


def test_paired_interval_covers_the_true_change_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):  # each sample: lost with p = 0.04, gained with p = 0.02 -> true change -0.02
        u = rng.random(500)
        before = u >= 0.02
        after = (u >= 0.06) | (u < 0.02)
        _, lo, hi = paired_difference_interval(before, after)
        hits += lo <= -0.02 <= hi
    assert 0.90 <= hits / 400 <= 0.99


@pytest.mark.parametrize("before,after,exc", [
    (np.ones(5, bool), np.ones(6, bool), ValueError),
    (np.ones(1, bool), np.ones(1, bool), ValueError),
    (np.ones((2, 3), bool), np.ones((2, 3), bool), ValueError),
    (np.ones(5), np.ones(5), TypeError),
])
def test_paired_interval_rejects_bad_input(before, after, exc):
    with pytest.raises(exc, match="paired_difference_interval"):
        paired_difference_interval(before, after)


def test_verdict_says_which_way_the_target_is_met():
    assert verdict((-0.002, -0.008, 0.004)) == "met (interval)"
    assert verdict((-0.004, -0.015, 0.007)) == "met (point)"
    assert verdict((-0.02, -0.03, -0.01)) == "not met"
