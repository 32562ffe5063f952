"""The grading checks of the book's graded exercises, one function per exercise (used by ``make grade`` and
CI).

A check receives the function the student wrote and raises ``AssertionError`` with one sentence meant for the
student when the answer is wrong. Three rules hold for every check:

* **References are the grader's.** The expected values come from the package (bound when this file is
  imported) or from formulas written here, computed in the process that runs the check. ``tools/grade.py``
  runs that process apart from the student's kernel and sends the kernel only the inputs, so a notebook that
  monkey-patches the package, ``torch`` or these checks changes nothing here.
* **The package's own function is refused.** The student's function is called through
  :class:`grading_support.Submission`, which records every package function that runs inside it; calling the
  implementation the exercise asks to write (however imported or renamed) fails with a sentence that says so.
* **Edge cases are inputs.** All-zero mask rows, non-default epsilons and margins, windows clipped at both
  ends, grids that must include their end points: each check tries them, and names the case when it fails.

The inputs are fixed (seeded), so the messages are reproducible. Students who clone the project can read this
file; for graded coursework keep a second file of the same shape (``EXERCISES``, ``exercises_for``) in a
private place and pass it with ``tools/grade.py --checks FILE`` (``grading_support`` is importable from there
too).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grading_support import StudentError, Unsupported, as_submission  # noqa: E402

# The references, bound now: rebinding the package's attributes later (in this process) does not reach them.
from cnm_minimal import metrics as _metrics  # noqa: E402
from cnm_minimal.attention import MASK_EPS as _MASK_EPS  # noqa: E402
from cnm_minimal.baselines import best_constant_window as _best_constant_window  # noqa: E402
from cnm_minimal.baselines import mean_training_window as _mean_training_window  # noqa: E402
from cnm_minimal.bias import prior_hard as _prior_hard  # noqa: E402
from cnm_minimal.data.features import resample_clips as _resample_clips  # noqa: E402
from cnm_minimal.gaussian_mask import gaussian_mask as _gaussian_mask  # noqa: E402
from cnm_minimal.losses import ivc_loss as _ivc_loss  # noqa: E402
from cnm_minimal.model import CNM as _CNM  # noqa: E402
from cnm_minimal.model import CNMConfig as _CNMConfig  # noqa: E402
from cnm_minimal.proposal_selection import select_by_vote as _select_by_vote  # noqa: E402

_temporal_iou = _metrics.temporal_iou


@dataclass(frozen=True)
class Exercise:
    chapter: str  # the notebook's name without .ipynb
    number: int  # its number in the chapter's list of exercises
    name: str  # the function the student writes
    points: int
    check: Callable[[Callable], None]


# Chapters whose checks need only the exercise cells: ``tools/grade.py`` runs just those cells (its fast mode)
# unless told ``--cells all``. Chapters 9 and 12 train for minutes; their checks need one pure function.
EXERCISE_CELLS_ONLY = {"09_training", "12_cpl"}


def _write_it(what: str, allowed: str = "") -> str:
    return f"the exercise is to write {what} yourself" + (f" ({allowed})" if allowed else "")


# -- helpers that turn what a student returned into numbers, with a sentence when they cannot
# -----------------
def _tensor(got, what: str) -> torch.Tensor:
    if isinstance(got, Unsupported) or got is None or isinstance(got, (str, dict)):
        raise AssertionError(f"{what} should be a tensor, but your function returned {got}")
    try:
        return torch.as_tensor(got).double()
    except (TypeError, ValueError, RuntimeError) as error:
        raise AssertionError(
            f"{what} should be a tensor, but your function returned {type(got).__name__} ({error})"
        ) from None


def _close(got, expected, what: str, rtol: float = 1e-5, atol: float = 1e-6, hint: str = "") -> None:
    got_t, expected_t = _tensor(got, what), torch.as_tensor(expected).double()
    assert tuple(got_t.shape) == tuple(expected_t.shape), (
        f"{what}: the result has shape {tuple(got_t.shape)}, expected {tuple(expected_t.shape)}"
    )
    if torch.isnan(got_t).any() and not torch.isnan(expected_t).any():
        raise AssertionError(f"{what}: the result contains NaN where the expected values are finite.{hint}")
    if not torch.allclose(got_t, expected_t, rtol=rtol, atol=atol):
        worst = (got_t - expected_t).abs().max().item()
        raise AssertionError(
            f"{what}: the values differ from the expected ones (largest difference {worst:.3g}).{hint}"
        )


def _allclose(got, expected, rtol: float = 1e-5, atol: float = 1e-6) -> bool:
    try:
        got_t, expected_t = _tensor(got, ""), torch.as_tensor(expected).double()
    except AssertionError:
        return False
    return tuple(got_t.shape) == tuple(expected_t.shape) and bool(
        torch.allclose(got_t, expected_t, rtol=rtol, atol=atol)
    )


def _number(got, what: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        return float(got)
    if isinstance(got, (int, float, np.floating, np.integer)) and not isinstance(got, bool):
        return float(got)
    raise AssertionError(
        f"{what} should be a number, but your function returned "
        f"{got if isinstance(got, Unsupported) else type(got).__name__}"
    )


# -- the explanation of a wrong answer: the one mistake that fits every case ---------------------------------
def _fitting(mistakes: dict, answer, same, *arguments) -> set:
    """The names of the plausible mistakes whose output on ``arguments`` is ``answer``."""
    return {name for name, (_, wrong) in mistakes.items() if same(answer, wrong(*arguments))}


def _explain(function: str, case: str, mistakes: dict, possible: set) -> None:
    """Raise the sentence of the first mistake that fits every case, if one does."""
    name = next((n for n in mistakes if n in possible), None)
    if name is not None:
        raise AssertionError(f"{function} on {case}: {mistakes[name][0]}")


# -- chapter 1 ----------------------------------------------------------------------------------------------
def _mean_iou(window, train) -> float:
    return float(_temporal_iou(np.repeat(np.asarray(window, dtype=float)[None], len(train), 0), train).mean())


def _window(got, what: str) -> np.ndarray:
    if isinstance(got, Unsupported) or got is None:
        raise AssertionError(f"{what} should return one window [a, b], but it returned {got}")
    try:
        window = np.asarray(got, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise AssertionError(
            f"{what} should return one window [a, b], but it returned {type(got).__name__}"
        ) from None
    assert window.shape == (2,), f"{what} should return one window [a, b], got {window.round(4).tolist()}"
    assert 0 <= window[0] < window[1] <= 1, (
        f"{what} returned {window.round(4).tolist()}, not a window inside [0, 1] with a < b"
    )
    return window


def check_best_constant_window(best_constant_window) -> None:
    f = as_submission(best_constant_window, "best_constant_window").forbid(
        {
            "cnm_minimal.baselines.best_constant_window": _write_it(
                "the grid search", "metrics.temporal_iou may help"
            ),
            "cnm_minimal.baselines.window_by_duration": _write_it("the grid search"),
        }
    )
    rng = np.random.default_rng(7)
    starts = rng.uniform(0, 0.5, 60)
    early = np.stack([starts, np.minimum(starts + rng.uniform(0.1, 0.5, 60), 1.0)], axis=1)
    at_end = np.stack([rng.uniform(0.45, 0.75, 30), np.ones(30)], axis=1)  # the best window ends at 1
    at_start = np.stack([np.zeros(30), rng.uniform(0.2, 0.6, 30)], axis=1)  # the best window starts at 0
    cases = [
        ("60 training moments early in the video", early, 0.05),
        ("training moments that all end at the video's end", at_end, 0.05),
        ("training moments that all start at 0", at_start, 0.1),
        ("a coarse grid", early, 0.25),
        ("the default step (called without step)", early[:12], None),
    ]
    for label, train, step in cases:
        call = "best_constant_window(train)" if step is None else f"best_constant_window(train, step={step})"
        got = _window(f(train) if step is None else f(train, step=step), call)
        grid_step = 0.01 if step is None else step
        expected = _best_constant_window(train, step=grid_step)
        ticks = got / grid_step
        assert np.allclose(ticks, np.round(ticks), atol=1e-6), (
            f"{call} on {label} returned {got.round(4).tolist()}, which is not on the grid 0, {grid_step:g}, "
            "..., 1: "
            "use the step argument to build the grid"
        )
        score, best = _mean_iou(got, train), _mean_iou(expected, train)
        if score >= best - 1e-9:
            continue
        if expected[1] == 1.0 and got[1] < 1.0:
            advice = (
                "the grid 0, step, ..., 1 includes its end point 1 (np.arange(0, 1, step) stops before 1; "
                "np.arange(0, 1 + step / 2, step) does not)"
            )
        elif expected[0] == 0.0 and got[0] > 0.0:
            advice = "the grid 0, step, ..., 1 starts at 0"
        else:
            advice = "did you try every a < b on the grid, ends included, and keep the highest mean IoU?"
        raise AssertionError(
            f"on {label} your window {got.round(4).tolist()} has mean training IoU {score:.4f}, but the "
            "window "
            f"{expected.round(4).tolist()} on the grid of step {grid_step:g} has {best:.4f}: {advice}"
        )


# -- chapter 2 ----------------------------------------------------------------------------------------------
def _resample_with(
    features: np.ndarray, num_clips: int, bounds: np.ndarray, empty: str = "repeat"
) -> np.ndarray:
    """Segment means over ``bounds`` (a plausible variant of Eq. 2.1 for each way of getting them wrong)."""
    rows = []
    for start, end in zip(bounds[:-1], bounds[1:]):
        if end > start:
            rows.append(features[start:end].mean(axis=0))
        else:
            rows.append(
                features[min(start, len(features) - 1)] if empty == "repeat" else np.zeros(features.shape[1])
            )
    return np.stack(rows)


def _resample_mistakes() -> dict:
    """Plausible wrong versions of Eq. 2.1, each ``(message, function of features and N)``, in report
    order."""

    def grid(t, n):
        return np.arange(n + 1) / n * t

    return {
        "no clip": (
            "the boundaries are clipped to T - 1 (Eq. 2.1), so the last row is never averaged in: a quirk of "
            "the authors' code that the book keeps",
            lambda f, n: _resample_with(f, n, np.round(grid(len(f), n)).astype(int)),
        ),
        "floor": (
            "the boundaries are rounded to the nearest row (numpy's round), not floored",
            lambda f, n: _resample_with(f, n, np.minimum(np.floor(grid(len(f), n)).astype(int), len(f) - 1)),
        ),
        "half up": (
            "the boundaries round halves to the even row, as numpy's round (and the authors' code) does: "
            "round(2.5) is 2, not 3",
            lambda f, n: _resample_with(
                f, n, np.minimum(np.floor(grid(len(f), n) + 0.5).astype(int), len(f) - 1)
            ),
        ),
        "zeros": (
            "a clip with no row of its own (b_j = b_{j+1}) repeats row b_j: short videos repeat rows, they "
            "do "
            "not get zeros",
            lambda f, n: _resample_with(
                f, n, np.minimum(np.round(grid(len(f), n)).astype(int), len(f) - 1), empty="zeros"
            ),
        ),
        "inclusive end": (
            "clip j averages rows b_j to b_{j+1} - 1: the row b_{j+1} belongs to the next clip",
            lambda f, n: np.stack(
                [
                    f[a : max(b, a) + 1].mean(axis=0)
                    for a, b in zip(
                        *(lambda b: (b[:-1], b[1:]))(
                            np.minimum(np.round(grid(len(f), n)).astype(int), len(f) - 1)
                        )
                    )
                ]
            ),
        ),
    }


def _resample_cases() -> list[tuple[str, np.ndarray, int]]:
    rng = np.random.default_rng(2)
    return [
        ("T = 7 rows into N = 3 clips", np.arange(7.0)[:, None], 3),
        ("T = 5 rows into N = 2 clips (a boundary at 2.5)", rng.normal(size=(5, 4)), 2),
        ("a long video: T = 61 rows of 8 values into N = 16 clips", rng.normal(size=(61, 8)), 16),
        ("a short video: T = 3 rows into N = 8 clips (rows repeat)", rng.normal(size=(3, 5)), 8),
        ("T = N = 6", rng.normal(size=(6, 3)), 6),
        ("a single row into N = 4 clips", rng.normal(size=(1, 2)), 4),
    ]


def check_resample(resample) -> None:
    f = as_submission(resample, "resample").forbid(
        {
            "cnm_minimal.data.features.resample_clips": _write_it("Eq. 2.1"),
            "cnm_minimal.data.features.clip_boundaries": _write_it("the boundaries of Eq. 2.1"),
        }
    )
    mistakes, failed = _resample_mistakes(), None
    possible = set(mistakes)
    for case, features, num_clips in _resample_cases():
        expected = _resample_clips(features, num_clips).astype(np.float64)
        try:
            got = f(features.copy(), num_clips)
        except StudentError:
            if failed is None:  # the first thing that went wrong: the student sees it
                raise
            break  # an earlier case already failed: explain that one
        answer = _tensor(got, f"resample on {case}").numpy()
        assert answer.shape == expected.shape, (
            f"resample on {case}: the result has shape {answer.shape}, expected {expected.shape} (N rows of "
            "D values)"
        )
        possible &= _fitting(
            mistakes, answer, lambda x, y: np.allclose(x, y, rtol=1e-5, atol=1e-6), features, num_clips
        )
        if failed is None and not np.allclose(answer, expected, rtol=1e-5, atol=1e-6):
            failed = (case, np.abs(answer - expected).max())
    if failed is None:
        return
    case, worst = failed
    _explain("resample", case, mistakes, possible)
    raise AssertionError(
        f"resample on {case}: the values differ from Eq. 2.1's segment means (largest difference "
        f"{worst:.3g}); compute b_j = min(round(j T / N), T - 1) and average rows b_j .. b_(j+1) - 1"
    )


# -- chapter 10 ---------------------------------------------------------------------------------------------
def _seed_difference(
    a, b, ddof: int = 0, factor: float = 2.0, sign: float = 1.0, per_seed: bool = True, add_stds: bool = False
) -> tuple[float, float]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sa, sb, n = a.std(ddof=ddof), b.std(ddof=ddof), (len(a) if per_seed else 1)
    spread = (sa + sb) / math.sqrt(n) if add_stds else math.sqrt(sa**2 / n + sb**2 / n)
    return sign * (b.mean() - a.mean()), factor * spread


def _seed_mistakes() -> dict:
    return {
        "sign": (
            "the difference is the variant's mean minus full's (b - a): a variant that scores lower gets a "
            "negative difference",
            lambda a, b: _seed_difference(a, b, sign=-1.0),
        ),
        "sample std": (
            "use the population standard deviation of the seeds (np.std, as the table does), not the "
            "sample one (ddof=1)",
            lambda a, b: _seed_difference(a, b, ddof=1),
        ),
        "no sqrt n": (
            "a mean of n seeds has the standard error s / sqrt(n): divide each variance by n",
            lambda a, b: _seed_difference(a, b, per_seed=False),
        ),
        "one se": (
            "the rough 95% interval is the difference plus or minus *two* standard errors",
            lambda a, b: _seed_difference(a, b, factor=1.0),
        ),
        "1.96": (
            "the exercise's rough interval uses 2 standard errors, not 1.96",
            lambda a, b: _seed_difference(a, b, factor=1.96),
        ),
        "added stds": (
            "standard errors add in quadrature: sqrt(s_a^2 / n + s_b^2 / n), not (s_a + s_b) / sqrt(n)",
            lambda a, b: _seed_difference(a, b, add_stds=True),
        ),
    }


def check_seed_difference(seed_difference) -> None:
    f = as_submission(seed_difference, "seed_difference")
    cases = [
        (
            "three seeds each (full 33.1, 35.0, 31.8; variant 34.0, 36.6, 35.2)",
            [33.1, 35.0, 31.8],
            [34.0, 36.6, 35.2],
        ),
        (
            "a variant that scores lower, five seeds each",
            [35.2, 34.1, 36.0, 33.9, 35.5],
            [33.0, 34.4, 31.9, 33.1, 32.2],
        ),
        ("two seeds each", [30.0, 32.0], [31.0, 35.0]),
    ]
    mistakes, failed, possible = _seed_mistakes(), None, set(_seed_mistakes())
    for case, a, b in cases:
        expected = _seed_difference(a, b)
        got = f(list(a), list(b))
        if isinstance(got, Unsupported) or not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(
                f"seed_difference on {case} should return two numbers (difference, half-width), "
                f"but returned {got}"
            )
        answer = (_number(got[0], "the difference"), _number(got[1], "the half-width"))

        def same(x, y):
            return all(math.isclose(u, v, rel_tol=1e-6, abs_tol=1e-9) for u, v in zip(x, y))

        possible &= _fitting(mistakes, answer, same, a, b)
        if failed is None and not same(answer, expected):
            failed = (case, answer, expected)
    if failed is None:
        return
    case, answer, expected = failed
    _explain("seed_difference", case, mistakes, possible)
    raise AssertionError(
        f"seed_difference on {case} returned ({answer[0]:.4g}, {answer[1]:.4g}), expected "
        f"({expected[0]:.4g}, {expected[1]:.4g}): mean(b) - mean(a), and 2 sqrt(s_a^2/n + s_b^2/n)"
    )


def _descent_toward_truth(
    gradient, centre, truth, far: float = 0.1, flip: bool = False, zeros: bool = False, near: bool = False
) -> float:
    g, c, t = (np.asarray(x, dtype=float) for x in (gradient, centre, truth))
    keep = np.ones(len(g), dtype=bool) if near else np.abs(t - c) > far
    g, toward = g[keep], np.sign(t - c)[keep]
    moving = g != 0
    agree = (np.sign(g if flip else -g) == toward) & moving
    return float(agree.sum() / max(len(g) if zeros else moving.sum(), 1))


def _descent_mistakes() -> dict:
    return {
        "sign": (
            "a step of gradient descent moves the centre by minus the gradient: compare the sign of -g with "
            "the direction of the true centre",
            lambda *a: _descent_toward_truth(*a, flip=True),
        ),
        "zeros": (
            "a query whose gradient is zero points nowhere: leave it out of the count, not in the "
            "denominator",
            lambda *a: _descent_toward_truth(*a, zeros=True),
        ),
        "near": (
            "count only the queries whose true centre is more than `far` from the head's centre",
            lambda *a: _descent_toward_truth(*a, near=True),
        ),
    }


def check_descent_toward_truth(descent_toward_truth) -> None:
    f = as_submission(descent_toward_truth, "descent_toward_truth")
    rng = np.random.default_rng(7)
    gradient = rng.normal(size=200) * (rng.uniform(size=200) > 0.2)  # a fifth with no gradient
    centre, truth = rng.uniform(0.2, 0.8, 200), rng.uniform(0, 1, 200)
    cases = [
        (
            "five queries at centre 0.5 (true centres 0.9, 0.9, 0.1, 0.55, 0.1; gradients -1, 1, 1, 5, 0)",
            np.array([-1.0, 1.0, 1.0, 5.0, 0.0]),
            np.full(5, 0.5),
            np.array([0.9, 0.9, 0.1, 0.55, 0.1]),
            0.1,
        ),
        ("200 random queries, far = 0.1", gradient, centre, truth, 0.1),
        ("the same queries, far = 0.3", gradient, centre, truth, 0.3),
    ]
    mistakes, failed, possible = _descent_mistakes(), None, set(_descent_mistakes())
    for case, *arguments in cases:
        expected = _descent_toward_truth(*arguments)
        answer = _number(f(*[a.copy() if isinstance(a, np.ndarray) else a for a in arguments]), "the share")
        same = math.isclose(answer, expected, rel_tol=1e-9, abs_tol=1e-12)
        possible &= {n for n, (_, wrong) in mistakes.items() if math.isclose(answer, wrong(*arguments))}
        if failed is None and not same:
            failed = (case, answer, expected)
    if failed is None:
        return
    case, answer, expected = failed
    _explain("descent_toward_truth", case, mistakes, possible)
    raise AssertionError(
        f"descent_toward_truth on {case} returned {answer:.4g}, expected {expected:.4g}: among the queries "
        "farther than `far` from their true centre whose gradient is not zero, the share where -g points "
        "toward the true centre"
    )


# -- chapter 11 ---------------------------------------------------------------------------------------------
def _window_ious(window, moments) -> np.ndarray:
    return _temporal_iou(np.repeat(np.asarray(window, dtype=float)[None], len(moments), 0), moments)


def _prior_hard_mistakes() -> dict:
    """Plausible wrong prior-hard subsets, each ``(message, function of train, test, threshold)``, in report
    order."""
    return {
        "chosen on test": (
            "choose the constant window on the *training* moments: the test moments must not choose anything",
            lambda train, test, t: _window_ious(_best_constant_window(test), test) < t,
        ),
        "easy ones": (
            "the prior-hard queries are those where the window *fails*: IoU below the threshold, not at or "
            "above it",
            lambda train, test, t: _window_ious(_best_constant_window(train), test) >= t,
        ),
        "fixed threshold": (
            "use the threshold argument: your subset does not change when it does",
            lambda train, test, t: _window_ious(_best_constant_window(train), test) < 0.3,
        ),
        "mean window": (
            "the prior is the *best* constant window (the grid search of chapter 1), not the mean "
            "training window",
            lambda train, test, t: _window_ious(_mean_training_window(train), test) < t,
        ),
    }


def _prior_hard_cases() -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(11)

    def moments(n, low, high):
        starts = rng.uniform(low, high, n)
        return np.stack([starts, np.minimum(starts + rng.uniform(0.1, 0.4, n), 1.0)], axis=1)

    train, test = moments(80, 0.0, 0.4), np.concatenate([moments(30, 0.0, 0.4), moments(20, 0.4, 0.8)])
    late = moments(40, 0.4, 0.8)
    return [
        ("80 early training moments, 50 test moments (threshold 0.3)", train, test, 0.3),
        ("the same moments with threshold 0.5", train, test, 0.5),
        ("the same moments with threshold 0.1", train, test, 0.1),
        ("early training moments and late test moments", train, late, 0.3),
    ]


def check_prior_hard_queries(prior_hard_queries) -> None:
    f = as_submission(prior_hard_queries, "prior_hard_queries").forbid(
        {
            "cnm_minimal.bias.prior_hard": _write_it(
                "the prior-hard subset", "baselines.best_constant_window and metrics.temporal_iou may help"
            ),
            "cnm_minimal.bias.baseline_table": _write_it("the prior-hard subset"),
        }
    )
    mistakes, failed = _prior_hard_mistakes(), None
    possible = set(mistakes)
    for case, train, test, threshold in _prior_hard_cases():
        expected = _prior_hard(test, _best_constant_window(train), threshold)
        got = f(train.copy(), test.copy(), threshold=threshold)
        if isinstance(got, Unsupported) or got is None:
            raise AssertionError(
                f"prior_hard_queries on {case} should return a boolean mask, but returned {got}"
            )
        answer = np.asarray(got)
        assert answer.shape == expected.shape, (
            f"prior_hard_queries on {case} should return one True/False per test query, shape "
            f"{expected.shape}; "
            f"got shape {answer.shape} (a mask, not the indices)"
        )
        answer = answer.astype(bool)
        possible &= _fitting(mistakes, answer, np.array_equal, train, test, threshold)
        if failed is None and not np.array_equal(answer, expected):
            failed = (case, int(answer.sum()), int(expected.sum()), len(expected))
    if failed is None:
        return
    case, got_count, expected_count, total = failed
    _explain("prior_hard_queries", case, mistakes, possible)
    raise AssertionError(
        f"prior_hard_queries on {case} marked {got_count} of {total} test queries, expected "
        f"{expected_count}: the best constant window chosen on the training moments (step 0.01) "
        "reaches IoU below the threshold on the prior-hard ones"
    )


# -- chapter 13 ---------------------------------------------------------------------------------------------
def _run_seconds(epochs, queries, batch, t_step, t_eval) -> float:
    return epochs * (math.ceil(queries / batch) * t_step + t_eval)  # Eq. 13.1


def _run_cost_mistakes() -> dict:
    """Plausible wrong readings of Eq. 13.1, each ``(message, function)``, in report order."""
    return {
        "floor": (
            "the last, smaller batch is an iteration too: ceil(N / B), not floor",
            lambda e, n, b, s, v: e * ((n // b) * s + v),
        ),
        "fraction": (
            "an epoch has a whole number of iterations, ceil(N / B): a fraction of one does not run",
            lambda e, n, b, s, v: e * (n / b * s + v),
        ),
        "evaluation once": (
            "the evaluation runs after every epoch, so t_eval counts E times, not once",
            lambda e, n, b, s, v: e * math.ceil(n / b) * s + v,
        ),
        "evaluation per step": (
            "t_eval is one evaluation per epoch, not one per iteration",
            lambda e, n, b, s, v: e * math.ceil(n / b) * (s + v),
        ),
        "queries per step": (
            "an iteration processes a batch of B queries: the count of iterations is ceil(N / B), not N",
            lambda e, n, b, s, v: e * (n * s + v),
        ),
    }


def check_run_seconds(run_seconds) -> None:
    f = as_submission(run_seconds, "run_seconds")
    cases = [
        ("the authors' Charades-STA run: 50 epochs, 9,560 queries, batch 128", (50, 9560, 128, 5.0, 60.0)),
        ("batch 32", (50, 9560, 32, 1.5, 60.0)),
        ("a batch that divides the queries: 4 epochs, 1,024 queries, batch 128", (4, 1024, 128, 2.0, 10.0)),
        ("one epoch of 706 queries at batch 32", (1, 706, 32, 0.2, 1.5)),
    ]
    mistakes, failed, possible = _run_cost_mistakes(), None, set(_run_cost_mistakes())
    for case, arguments in cases:
        expected = _run_seconds(*arguments)
        got = _number(f(*arguments), f"run_seconds{arguments}")
        possible &= _fitting(mistakes, got, lambda x, y: math.isclose(x, y, rel_tol=1e-9), *arguments)
        if failed is None and not math.isclose(got, expected, rel_tol=1e-9):
            failed = (case, arguments, got, expected)
    if failed is None:
        return
    case, arguments, got, expected = failed
    _explain("run_seconds", case, mistakes, possible)
    raise AssertionError(
        f"run_seconds{arguments} ({case}) returned {got:.6g} s, expected {expected:.6g} s by Eq. 13.1: "
        "T = E (ceil(N / B) t_step + t_eval)"
    )


# -- chapters 3 to 8: the components -----------------------------------------------------------------------
def check_half_height_width(half_height_width) -> None:
    f = as_submission(half_height_width, "half_height_width")
    for w, alpha in ((0.2, 5.5), (0.45, 5.5), (0.3, 2.0), (0.05, 5.5)):
        grid = torch.linspace(0, 1, 100001, dtype=torch.float64)
        m = _gaussian_mask(
            torch.tensor([0.5], dtype=torch.float64), torch.tensor([w], dtype=torch.float64), len(grid), alpha
        )[0]
        numeric = float((m >= 0.5).double().sum() / (len(grid) - 1))
        got = _number(f(w, alpha), f"half_height_width({w}, {alpha})")
        hint = " Remember that the mask clamps the width at 0.1." if w < 0.1 else ""
        assert abs(got - numeric) < 1e-4, (
            f"half_height_width({w}, {alpha}) returned {got:.5f}; measured on a fine grid it is "
            f"{numeric:.5f}.{hint}"
        )


def check_weighted_summary(weighted_summary) -> None:
    f = as_submission(weighted_summary, "weighted_summary")
    generator = torch.Generator().manual_seed(4)
    features, weights = torch.randn(3, 7, 5, generator=generator), torch.rand(3, 7, generator=generator)
    expected = torch.einsum("bp,bpd->bd", weights, features) / weights.sum(1, keepdim=True)
    _close(f(features, weights), expected, "weighted_summary(features, weights)")
    _close(
        f(features, None),
        features.mean(1),
        "weighted_summary(features, None) (the hard negative: every clip counts the same)",
    )


_NO_PACKAGE_ATTENTION = {
    "cnm_minimal.attention.mask_conditioned_softmax": _write_it("the mask-conditioned softmax"),
    "cnm_minimal.attention.attention_bias": _write_it("the bias log(m + 1e-10)"),
    "cnm_minimal.attention.MultiheadAttention.forward": _write_it("the attention"),
}


def _small_cnm(seed: int = 8):
    torch.manual_seed(seed)
    return _CNM(
        _CNMConfig(
            frame_dim=8,
            word_dim=6,
            vocab_size=11,
            hidden=16,
            heads=2,
            video_layers=1,
            query_layers=1,
            dropout=0.0,
        )
    ).eval()


# -- chapter 9 ----------------------------------------------------------------------------------------------
def check_clip_width_predictions(clip_width_predictions) -> None:
    f = as_submission(clip_width_predictions, "clip_width_predictions").forbid(
        {
            "cnm_minimal.baselines.segments_from_centre_width": _write_it("the clipped window"),
            "cnm_minimal.gaussian_mask.predict_segment": _write_it("the clipped window"),
        }
    )
    # "predicted" is the model's own (clipped) window: its midpoint is not the centre where it was clipped
    records = [
        {"vid": "a", "centre": 0.3, "width": 0.45, "predicted": [0.075, 0.525], "moment": [0.2, 0.4]},
        {"vid": "b", "centre": 0.95, "width": 0.4, "predicted": [0.75, 1.0], "moment": [0.7, 1.0]},
        {"vid": "c", "centre": 0.1, "width": 0.45, "predicted": [0.0, 0.325], "moment": [0.0, 0.3]},
        {"vid": "d", "centre": 0.6, "width": 0.2, "predicted": [0.5, 0.7], "moment": [0.5, 0.9]},
    ]
    centres = np.array([r["centre"] for r in records])
    for width in (0.3, 0.5, 1.5):
        call = f"clip_width_predictions(records, {width})"
        raw = f(records, width)
        try:
            got = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise AssertionError(f"{call} should return an array [Q, 2] of [start, end], got {raw}") from None
        assert got.shape == (len(records), 2), (
            f"{call} should return one [start, end] per record, shape ({len(records)}, 2); got shape "
            f"{got.shape}"
        )
        expected = np.stack([np.maximum(centres - width / 2, 0), np.minimum(centres + width / 2, 1)], axis=1)
        if np.allclose(got, expected, atol=1e-9):
            continue
        unclipped = np.stack([centres - width / 2, centres + width / 2], axis=1)
        over, under = np.argmax(got[:, 1] - 1), np.argmin(got[:, 0])
        if got[over, 1] > 1 + 1e-9:
            raise AssertionError(
                f"{call}: for centre {centres[over]} your window ends at {got[over, 1]:.3f}, after the "
                "video's end: clip "
                "the end at 1 with min(c + w/2, 1), as well as the start at 0"
            )
        if got[under, 0] < -1e-9:
            raise AssertionError(
                f"{call}: for centre {centres[under]} your window starts at {got[under, 0]:.3f}, before the "
                "video "
                "starts: clip the start at 0 with max(c - w/2, 0), as well as the end at 1"
            )
        if np.allclose(got, np.clip(unclipped, 0, 1)[:, ::-1], atol=1e-9):
            raise AssertionError(f"{call}: your columns are swapped; each row is [start, end]")
        raise AssertionError(
            f"with width {width} expected {expected.round(3).tolist()}, got {got.round(3).tolist()}: keep "
            "each record's "
            '"centre" (not the midpoint of its clipped "predicted" window), and clip the window to [0, 1] as '
            "the "
            "model's inference does"
        )


# -- chapters 5 to 8
# ---------------------------------------------------------------------------------------------
# Their current graded answers appear almost verbatim earlier in their chapters; these ask for more than
# re-typing.
def _attention_reference(queries, keys, values, m, heads, scale_by_head: bool = True):
    b, t, d = queries.shape
    size = d // heads

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, size).transpose(1, 2)

    scores = split(queries) @ split(keys).transpose(-2, -1) / math.sqrt(size if scale_by_head else d)
    weights = torch.softmax(scores + torch.log(m + _MASK_EPS)[:, None, None, :], dim=-1)
    return (weights @ split(values)).transpose(1, 2).reshape(b, t, d)


def check_masked_multihead_attention(masked_multihead_attention) -> None:
    f = as_submission(masked_multihead_attention, "masked_multihead_attention").forbid(_NO_PACKAGE_ATTENTION)
    generator = torch.Generator().manual_seed(55)
    for batch, queries_n, keys_n, dim, heads in (
        (2, 3, 5, 8, 2),
        (2, 4, 6, 8, 4),
        (1, 2, 3, 6, 1),
        (3, 1, 7, 12, 3),
    ):
        q = torch.randn(batch, queries_n, dim, dtype=torch.float64, generator=generator)
        k = torch.randn(batch, keys_n, dim, dtype=torch.float64, generator=generator)
        v = torch.randn(batch, keys_n, dim, dtype=torch.float64, generator=generator)
        m = torch.rand(batch, keys_n, dtype=torch.float64, generator=generator)
        m[-1] = 0.0  # the last batch item: a mask of zeros
        if batch > 1:
            m[0, 0] = 0.0
        call = (
            f"masked_multihead_attention(queries [{batch}, {queries_n}, {dim}], keys and values [{batch}, "
            f"{keys_n}, {dim}], m, heads={heads})"
        )
        got = _tensor(f(q, k, v, m, heads), call)
        expected = _attention_reference(q, k, v, m, heads)
        assert tuple(got.shape) == tuple(expected.shape), (
            f"{call} returned shape {tuple(got.shape)}, expected {tuple(expected.shape)}: merge the heads "
            "back into d"
        )
        if torch.isnan(got).any():
            raise AssertionError(
                f"{call} returned NaN (the last batch item has m = 0 on every key): add 1e-10 to m "
                "inside the log, as in log(m + 1e-10)"
            )
        if _allclose(got, expected):
            continue
        if heads > 1 and _allclose(got, _attention_reference(q, k, v, m, heads, scale_by_head=False)):
            raise AssertionError(
                f"{call}: scale the scores by sqrt(d / heads), the size of one head, not by sqrt(d)"
            )
        if heads > 1 and _allclose(got, _attention_reference(q, k, v, m, 1)):
            raise AssertionError(
                f"{call} equals one head over all d dimensions: split d into {heads} heads of size "
                f"{dim // heads}, attend in each, then concatenate them"
            )
        _close(
            got,
            expected,
            call,
            hint=" Each head: softmax(q k^T / sqrt(d / heads) + log(m + 1e-10)) v, the same "
            "mask for every head and query; then concatenate the heads.",
        )


def _smoothed_floor(classes: int, eps: float) -> float:
    def h(x):
        return -x * math.log(x) if x > 0 else 0.0

    return h(1 - eps + eps / classes) + (classes - 1) * h(eps / classes)


def check_smoothed_loss_floor(smoothed_loss_floor) -> None:
    f = as_submission(smoothed_loss_floor, "smoothed_loss_floor").forbid(
        {
            "cnm_minimal.reconstruction.label_smoothed_nll": "derive the minimum; do not search for it with "
            "the package's loss"
        }
    )
    for classes, eps in ((2, 0.1), (1112, 0.1), (93, 0.1), (40, 0.0), (9, 1.0), (5, 0.3), (1, 0.3)):
        call = f"smoothed_loss_floor({classes}, {eps})"
        raw = f(classes, eps)
        got = _number(raw, call)
        expected = _smoothed_floor(classes, eps)
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        if math.isnan(got):
            raise AssertionError(
                f"{call} returned NaN: in the entropy, 0 log 0 counts as 0 (the limit of x log x)"
            )
        wrong_target = (-(1 - eps) * math.log(1 - eps) if eps < 1 else 0.0) + (
            -(classes - 1) * (eps / classes) * math.log(eps / classes) if eps > 0 else 0.0
        )
        if math.isclose(got, wrong_target, rel_tol=1e-6):
            raise AssertionError(
                f"{call} returned {got:.6f}, expected {expected:.6f}: the target class gets its share "
                "eps / V of the smoothing too, so the best p puts 1 - eps + eps / V on it"
            )
        if classes > 1 and math.isclose(got, math.log(classes), rel_tol=1e-6):
            raise AssertionError(
                f"{call} returned log V = {got:.6f}, the loss of a uniform guess, not the smallest loss "
                f"({expected:.6f})"
            )
        raise AssertionError(
            f"{call} returned {got:.6f}, expected {expected:.6f}: l_t is the cross-entropy between p "
            "and the smoothed target q, smallest at p = q, where it equals the entropy of q"
        )


_NO_AUTOGRAD = {
    "torch.autograd.grad": "derive the gradients by hand; autograd is what the exercise checks you against",
    "torch.autograd.backward": "derive the gradients by hand; autograd is what the exercise checks you "
    "against",
    "torch._tensor.Tensor.backward": "derive the gradients by hand; autograd is what the exercise checks you "
    "against",
}


def check_ivc_gradients(ivc_gradients) -> None:
    f = as_submission(ivc_gradients, "ivc_gradients").forbid(_NO_AUTOGRAD)
    generator = torch.Generator().manual_seed(77)
    for size, beta1, beta2 in ((8, 0.1, 0.15), (5, 0.3, 0.05), (3, 0.0, 0.5), (6, 0.7, 0.2)):
        p, h, e = (torch.rand(size, dtype=torch.float64, generator=generator) * 2 for _ in range(3))
        # no hinge sits exactly on its kink (there autograd's choice would be a convention)
        assert ((p - h + beta1).abs().min() > 1e-9) and ((p - e + beta2).abs().min() > 1e-9)
        leaves = [x.clone().requires_grad_() for x in (p, h, e)]
        _ivc_loss(*leaves, beta1, beta2).backward()
        expected = [x.grad for x in leaves]
        call = f"ivc_gradients(L^p, L^h, L^e, {beta1}, {beta2}) on {size} sentences"
        result = f(p, h, e, beta1, beta2)
        assert isinstance(result, (tuple, list)) and len(result) == 3, (
            f"{call} should return three tensors (dL/dL^p, dL/dL^h, dL/dL^e); got "
            f"{result if isinstance(result, Unsupported) else type(result).__name__}"
        )
        got = [_tensor(g, call) for g in result]
        if all(_allclose(g, x) for g, x in zip(got, expected)):
            continue
        if all(_allclose(g, x * size) for g, x in zip(got, expected)):
            raise AssertionError(
                f"{call}: your gradients are {size} times too large; L_IVC is a mean over the "
                "sentences, so each carries a factor 1 / B"
            )
        if _allclose(got[1], -expected[1]) or _allclose(got[2], -expected[2]):
            raise AssertionError(f"{call}: check the signs; L^h and L^e enter their hinges with a minus sign")
        if _allclose(got[0], -expected[1]) or _allclose(got[0], -expected[2]):
            raise AssertionError(
                f"{call}: L^p appears in both hinges, so its gradient adds the two active indicators"
            )
        for name, g, x in zip(("dL/dL^p", "dL/dL^h", "dL/dL^e"), got, expected):
            _close(
                g,
                x,
                f"{call}: {name}",
                hint=" A hinge max(x, 0) passes a gradient of 1 where x > 0 and 0 where "
                "x < 0, and the batch mean divides by B.",
            )


def _parameter_parts(config) -> dict[str, int]:
    d = config.hidden
    attention = 4 * d * d + 4 * d
    return {
        "the clip projection frame_proj ((frame_dim + 1) d)": (config.frame_dim + 1) * d,
        "the word projection word_proj ((word_dim + 1) d)": (config.word_dim + 1) * d,
        "the start and mask tokens (2 word_dim)": 2 * config.word_dim,
        "one attention (4 d^2 + 4 d: packed q, k, v and the output projection)": attention,
        "one LayerNorm (2 d)": 2 * d,
        "the three LayerNorms of a layer (6 d)": 6 * d,
        "one cross-attention per layer": attention * (config.video_layers + config.query_layers),
        "the feed-forward network of a layer (4 d^2 + 3 d)": 4 * d * d + 3 * d,
        "the biases of the feed-forward network (3 d)": 3 * d,
        "the word head ((d + 1) V)": (d + 1) * config.vocab_size,
        "the Gaussian head (2 (d + 1))": 2 * (d + 1),
        "the position table (a buffer, not a parameter)": (config.max_words + 1) * d,
    }


def check_count_parameters(count_parameters) -> None:
    CNM, CNMConfig = _CNM, _CNMConfig
    build = "the exercise asks for the count from the sizes alone, without building the model or its modules"
    f = as_submission(count_parameters, "count_parameters").forbid(
        {
            f"cnm_minimal.{where}.__init__": build
            for where in (
                "model.CNM",
                "attention.Decoder",
                "attention.DecoderLayer",
                "attention.MultiheadAttention",
                "gaussian_mask.GaussianMaskHead",
            )
        }
    )
    configs = [
        CNMConfig(),
        CNMConfig(frame_dim=8, word_dim=6, vocab_size=11, hidden=16, heads=2, video_layers=1, query_layers=1),
        CNMConfig(frame_dim=500, vocab_size=8001, alpha=5.0, max_width=1.0),
        CNMConfig(
            frame_dim=20, word_dim=12, vocab_size=50, hidden=32, heads=8, video_layers=1, query_layers=3
        ),
    ]
    for config in configs:
        got = _number(f(config), "count_parameters(config)")
        expected = sum(p.numel() for p in CNM(config).parameters())
        if got == expected:
            continue
        diff = int(round(got - expected))
        short = (
            f"frame_dim={config.frame_dim}, word_dim={config.word_dim}, vocab_size={config.vocab_size}, "
            f"hidden={config.hidden}, video_layers={config.video_layers}, query_layers={config.query_layers}"
        )
        for part, size in _parameter_parts(config).items():
            if diff == -size:
                raise AssertionError(
                    f"for {short} you count {got:,.0f}, expected {expected:,}: {diff:,} is exactly "
                    f"{part}; did you leave it out?"
                )
            if diff == size:
                raise AssertionError(
                    f"for {short} you count {got:,.0f}, expected {expected:,}: the {diff:,} too many "
                    f"are exactly {part}; is it counted twice, or not a parameter?"
                )
        raise AssertionError(
            f"for {short} you count {got:,.0f}, expected {expected:,} (a difference of {diff:,}): "
            "go through CNM.__init__, DecoderLayer and MultiheadAttention module by module"
        )


# -- chapter 12 ---------------------------------------------------------------------------------------------
def _vote_cases() -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    agree = torch.tensor([[[0.0, 0.4], [0.1, 0.5], [0.1, 0.5], [0.1, 0.5], [0.8, 1.0]]])
    generator = torch.Generator().manual_seed(12)
    starts = torch.rand(6, 8, generator=generator) * 0.7
    random = torch.stack([starts, starts + 0.05 + torch.rand(6, 8, generator=generator) * 0.3], dim=-1)
    apart = torch.tensor([[[0.0, 0.1], [0.3, 0.4], [0.6, 0.7]]])  # no two proposals overlap
    lonely = torch.tensor(
        [
            [
                [0.07, 0.39],
                [0.33, 0.53],
                [0.41, 0.88],
                [0.38, 0.51],
                [0.10, 0.55],
                [0.67, 0.72],
                [0.37, 0.65],
                [0.28, 0.70],
            ]
        ]
    )  # its lowest-loss proposal wins the vote
    many_starts = torch.rand(1200, 8, generator=generator) * 0.8
    many = torch.stack(
        [many_starts, many_starts + 0.02 + torch.rand(1200, 8, generator=generator) * 0.2], dim=-1
    )
    return [
        (
            "three proposals that agree with each other but not exactly with the lowest-loss one (a tie)",
            agree,
            torch.tensor([[1.0, 2.0, 3.0, 2.5, 1.5]]),
        ),
        ("6 queries of 8 random proposals", random, torch.rand(6, 8, generator=generator)),
        ("proposals that do not overlap at all", apart, torch.tensor([[2.0, 0.5, 1.0]])),
        (
            "8 proposals whose lowest-loss one also wins the vote",
            lonely,
            torch.tensor([[0.1, 0.6, 0.5, 0.4, 0.6, 0.6, 0.8, 1.0]]),
        ),
        ("1,200 queries of 8 short random proposals", many, torch.rand(1200, 8, generator=generator)),
    ]


def _vote(iou: torch.Tensor, weights: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return (iou * weights[:, None, :]).sum(dim=dim).argmax(dim=-1)


def _last_index_argmax(scores: torch.Tensor) -> torch.Tensor:
    return scores.shape[-1] - 1 - scores.flip(-1).argmax(dim=-1)


def _vote_mistakes() -> dict:
    """Plausible wrong votes, each ``(message, function of segments and nll)``, in the order they are
    reported."""

    def lowest(iou, raw, nll):
        return iou[torch.arange(len(nll)), nll.argmin(-1)]

    return {
        "lowest loss": (
            "returned the lowest-loss proposal; the vote of Eq. 12.8 can choose another one: "
            "score_i = sum_j IoU(p_i, p_j) c_j",
            lambda iou, raw, nll: nll.argmin(-1),
        ),
        "unweighted": (
            "every voter counts the same in your vote (c_j = 1, the ActivityNet rule); weight voter j by "
            "c_j, its IoU with the lowest-loss proposal",
            lambda iou, raw, nll: iou.sum(-1).argmax(-1),
        ),
        "worst": (
            "c_j should be the IoU with the proposal of the *lowest* loss (argmin), not the highest",
            lambda iou, raw, nll: _vote(iou, iou[torch.arange(len(nll)), nll.argmax(-1)]),
        ),
        "wrong axis": (
            "your sum runs over the proposals being scored (i) instead of over the voters (j): "
            "score_i = sum over j of IoU(p_i, p_j) c_j, a sum along the last axis of the [B, K, K] products",
            lambda iou, raw, nll: _vote(iou, lowest(iou, raw, nll), dim=1),
        ),
        "softmax": (
            "c_j is the IoU of proposal j with the lowest-loss proposal, not a softmax (or other function) "
            "of the losses",
            lambda iou, raw, nll: _vote(iou, torch.softmax(-nll, dim=-1)),
        ),
        "no clamp": (
            "proposals that do not overlap get a negative IoU in your vote: clamp the IoU at 0, as the "
            "exercise's formula does",
            lambda iou, raw, nll: _vote(raw, lowest(raw, raw, nll)),
        ),
        "last on ties": (
            "several proposals tie for the highest vote here; return the lowest of their indices, as "
            "the exercise asks (torch.argmax does)",
            lambda iou, raw, nll: _last_index_argmax((iou * lowest(iou, raw, nll)[:, None, :]).sum(-1)),
        ),
        "lowest vote": (
            "you returned the proposal with the *lowest* vote; Eq. 12.8 takes the highest (argmax)",
            lambda iou, raw, nll: (iou * lowest(iou, raw, nll)[:, None, :]).sum(-1).argmin(-1),
        ),
    }


def check_vote_answer(vote_answer) -> None:
    f = as_submission(vote_answer, "vote_answer").forbid(
        {
            "cnm_minimal.proposal_selection.select_by_vote": _write_it("the vote"),
            "cnm_minimal.proposal_selection.pairwise_iou": _write_it("the pairwise IoU"),
        }
    )
    mistakes, failed = _vote_mistakes(), None
    possible = set(mistakes)  # the mistakes that explain every case so far
    for case, segments, nll in _vote_cases():
        expected = _select_by_vote(segments, nll)
        answer = _tensor(f(segments, nll), f"vote_answer on {case}")
        assert tuple(answer.shape) == tuple(expected.shape), (
            f"vote_answer on {case} should return one index per query, shape {tuple(expected.shape)}; got "
            "shape "
            f"{tuple(answer.shape)}"
        )
        answer = answer.long()
        iou, raw = _pairwise(segments), _pairwise(segments, clamp=False)
        possible &= _fitting(mistakes, answer, torch.equal, iou, raw, nll)
        if failed is None and not torch.equal(answer, expected):
            wrong_rows = (answer != expected).nonzero().flatten()
            failed = (case, wrong_rows, answer, expected)
    if failed is None:
        return
    case, rows, answer, expected = failed
    _explain("vote_answer", case, mistakes, possible)
    raise AssertionError(
        f"vote_answer on {case} chose {answer[rows[:3]].tolist()} for queries {rows[:3].tolist()} "
        f"(of {len(rows)} that differ), expected {expected[rows[:3]].tolist()}"
    )


def _pairwise(segments: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    start, end = segments[..., 0], segments[..., 1]
    inter = torch.minimum(end[:, :, None], end[:, None, :]) - torch.maximum(
        start[:, :, None], start[:, None, :]
    )
    union = torch.maximum(end[:, :, None], end[:, None, :]) - torch.minimum(
        start[:, :, None], start[:, None, :]
    )
    iou = (inter + 1e-10) / (union + 1e-10)
    return iou.clamp(min=0.0) if clamp else iou


EXERCISES = [
    Exercise("01_the_task", 3, "best_constant_window", 1, check_best_constant_window),
    Exercise("02_data", 2, "resample", 1, check_resample),
    Exercise("03_gaussian_mask", 2, "half_height_width", 1, check_half_height_width),
    Exercise("04_negative_mining", 2, "weighted_summary", 1, check_weighted_summary),
    Exercise("05_attention", 2, "masked_multihead_attention", 1, check_masked_multihead_attention),
    Exercise("06_masked_reconstruction", 2, "smoothed_loss_floor", 1, check_smoothed_loss_floor),
    Exercise("07_ivc_loss", 2, "ivc_gradients", 1, check_ivc_gradients),
    Exercise("08_assembly", 2, "count_parameters", 1, check_count_parameters),
    Exercise("09_training", 3, "clip_width_predictions", 1, check_clip_width_predictions),
    Exercise("10_ablations", 1, "seed_difference", 1, check_seed_difference),
    Exercise("10_ablations", 7, "descent_toward_truth", 1, check_descent_toward_truth),
    Exercise("11_honest_evaluation", 3, "prior_hard_queries", 1, check_prior_hard_queries),
    Exercise("12_cpl", 2, "vote_answer", 1, check_vote_answer),
    Exercise("13_full_scale", 5, "run_seconds", 1, check_run_seconds),
]


def exercises_for(chapter: str, exercises: list[Exercise] = EXERCISES) -> list[Exercise]:
    return [e for e in exercises if e.chapter == chapter]
