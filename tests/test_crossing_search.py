"""Combine's ``--robustFit`` crossing search (FitterAlgoBase::findCrossing) on profiles known by hand.

The profile fits are replaced by closed-form functions, so the expected crossings follow from
algebra: for NLL(x) = x^2 / 2 the 68 % level 0.494473 is crossed at x = sqrt(2 * 0.494473).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from pycombine.fit.intervals import DELTA68, stepping_crossing


def parabola(calls=None, fail=lambda x: False):
    def profile(x, start):
        if calls is not None:
            calls.append(x)
        if fail(x):
            return False, math.nan, start
        return True, 0.5 * x * x, np.array([x, 2.0 * x])
    return profile


@pytest.mark.parametrize("bound", [5.0, -5.0])
def test_parabola_crossing_on_both_sides(bound):
    x = stepping_crossing(parabola(), DELTA68, 0.0, bound, np.zeros(2))
    exact = math.copysign(math.sqrt(2 * DELTA68), bound)
    # Combine stops within 4 * crossing_tolerance of the level: |x^2/2 - level| < 4e-4 => |dx| < 4e-4 / |x|
    assert abs(x - exact) < 4e-4 / abs(exact)


def test_first_steps_follow_combine_step_rule():
    calls = []
    stepping_crossing(parabola(calls), DELTA68, 0.0, 5.0, np.zeros(2), step_size=0.1)
    # the start, then steps of 0.1 * (bound - start) = 0.5: 0.5 (below the level), 1.0 (above:
    # step back and shrink by 0.3 -> 0.5 + 0.15)
    assert calls[:4] == pytest.approx([0.0, 0.5, 1.0, 0.65])


def test_failed_start_gives_nan():
    assert math.isnan(stepping_crossing(parabola(fail=lambda x: x == 0.0), DELTA68, 0.0, 5.0, np.zeros(2)))


def test_too_many_failed_fits_in_a_row_give_nan():
    calls = []
    x = stepping_crossing(parabola(calls, fail=lambda x: x != 0.0), DELTA68, 0.0, 5.0, np.zeros(2), max_failed_steps=5)
    assert math.isnan(x)
    # the start, then five failed steps (0.5, 0.25, 0.125, ... : each failure halves the step)
    assert calls == pytest.approx([0.0, 0.5, 0.25, 0.125, 0.0625, 0.03125])


def test_range_closing_before_the_level_gives_nan():
    # the profile never reaches the level before the bound 0.5: Combine reports "closed range"
    assert math.isnan(stepping_crossing(parabola(), DELTA68, 0.0, 0.5, np.zeros(2)))


def test_step_limit_is_checked_after_failures_too():
    # every step fails, but the step shrinks below the tolerance before max_failed_steps is
    # reached (the C++ do-while checks its condition after `continue`): stop, nan, few fits
    calls = []
    x = stepping_crossing(parabola(calls, fail=lambda x: x != 0.0), DELTA68, 0.0, 5.0, np.zeros(2),
                          step_size=0.1, crossing_tolerance=0.2, max_failed_steps=100)
    assert math.isnan(x)
    # r_inc: 0.5 -> 0.25 -> 0.125 -> 0.0625 -> ... stops once |r_inc| <= 0.2 * 0.1 * 5 = 0.1
    assert len(calls) == 1 + 3
