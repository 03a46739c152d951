import math

import numpy as np
import pytest
from scipy import stats

from cdreasoning import metrics


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    human = rng.uniform(0.9, 16.0, 400)
    pred = 0.7 * human + rng.normal(0, 1.5, human.size) + 1.0
    return np.abs(pred) + 0.05, human


def test_stress_matches_colour_science(pair):
    colour = pytest.importorskip("colour")
    pred, human = pair
    assert math.isclose(metrics.stress(pred, human), 100 * colour.index_stress(pred, human), rel_tol=1e-9)


def test_stress_is_zero_for_proportional_and_scale_invariant(pair):
    _, human = pair
    assert metrics.stress(3.0 * human, human) == pytest.approx(0.0, abs=1e-9)
    pred, human = pair
    assert metrics.stress(10 * pred, human) == pytest.approx(metrics.stress(pred, human))


def test_correlations_match_scipy(pair):
    pred, human = pair
    assert metrics.plcc(pred, human) == pytest.approx(stats.pearsonr(pred, human)[0])
    assert metrics.srcc(pred, human) == pytest.approx(stats.spearmanr(pred, human)[0])
    assert metrics.krcc(pred, human) == pytest.approx(stats.kendalltau(pred, human)[0])
    assert metrics.rmse(pred, human) == pytest.approx(np.sqrt(np.mean((pred - human) ** 2)))


def test_logistic_fit_recovers_monotone_nonlinearity():
    rng = np.random.default_rng(1)
    x = rng.uniform(-3, 3, 500)
    truth = (8.0, 3.0, 0.5, 6.0, 0.1)
    human = metrics.logistic5(x, *truth)
    fit = metrics.fit_logistic5(x, human)
    assert np.allclose(fit(x), human, atol=1e-4)
    # a saturating transform hurts raw PLCC; the fit restores it
    assert metrics.plcc(x, human) < 0.97
    assert metrics.plcc(x, human, fit="logistic5") == pytest.approx(1.0, abs=1e-6)
    assert metrics.rmse(x, human, fit="logistic5") == pytest.approx(0.0, abs=1e-3)


@pytest.mark.parametrize("fn", [metrics.stress, metrics.plcc, metrics.srcc, metrics.krcc, metrics.rmse])
def test_bad_inputs_raise(fn):
    good = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="non-finite"):
        fn(np.array([1.0, np.nan, 3.0, 4.0]), good)
    with pytest.raises(ValueError, match="length"):
        fn(good[:3], good)
    with pytest.raises(ValueError, match="at least 3"):
        fn(good[:2], good[:2])


@pytest.mark.parametrize("fn", [metrics.plcc, metrics.srcc, metrics.krcc])
def test_constant_input_raises(fn):
    with pytest.raises(ValueError, match="constant"):
        fn(np.ones(5), np.arange(5.0))


def test_unknown_fit_raises(pair):
    with pytest.raises(ValueError, match="unknown fit"):
        metrics.plcc(*pair, fit="cubic")


def test_logistic_fit_with_fewer_points_than_parameters_falls_back_to_linear():
    pred, human = [1.0, 2.0, 4.0], [2.0, 3.5, 6.5]
    fit = metrics.fit_logistic5(pred, human)
    assert fit.params[0] == 0.0  # the linear member of the family
    assert metrics.plcc(pred, human, fit="logistic5") == pytest.approx(1.0)


def test_logistic_fit_never_bends_back():
    # data that a logistic + linear member fits exactly but that rises, then falls (t4 < 0 after saturation):
    # the unconstrained optimum is found and is not monotone, so the linear member is used instead
    x = np.linspace(0.0, 10.0, 41)
    human = metrics.logistic5(x, 10.0, 3.0, 5.0, 5.0, -0.8)
    fit = metrics.fit_logistic5(x, human)
    steps = np.diff(fit(np.linspace(0.0, 10.0, 400)))
    assert np.all(steps >= -1e-9) or np.all(steps <= 1e-9)
    slope, intercept = np.polyfit(x, human, 1)
    assert fit.params == pytest.approx((0.0, 1.0, 0.0, intercept, slope))
