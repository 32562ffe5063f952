"""Temporal IoU, R@1 and mIoU (cnm_minimal/metrics.py), against the spec's section 5."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnm_minimal.metrics import (
    DR_THRESHOLDS,
    EPS,
    IOU_THRESHOLDS,
    as_segments,
    discounted_metrics,
    discounted_recall,
    localization_metrics,
    recall_at_iou,
    temporal_iou,
)


def iou1(p, g):
    return float(temporal_iou([p], [g])[0])


def test_identical_segments_score_exactly_one():
    assert iou1([0.2, 0.6], [0.2, 0.6]) == 1.0


def test_disjoint_segments_score_zero():
    assert iou1([0.0, 0.2], [0.5, 0.9]) == 0.0
    assert iou1([0.5, 0.9], [0.0, 0.2]) == 0.0


def test_touching_segments_score_the_epsilon_of_the_official_formula():
    # (0 + 1e-10) / (1 + 1e-10): positive but far below any threshold
    assert iou1([0.0, 0.5], [0.5, 1.0]) == pytest.approx(EPS / (1 + EPS), rel=1e-12)
    assert iou1([0.0, 0.5], [0.5, 1.0]) < min(IOU_THRESHOLDS)


def test_nested_segment_scores_length_ratio():
    assert iou1([0.3, 0.5], [0.2, 0.7]) == pytest.approx(0.2 / 0.5)
    assert iou1([0.2, 0.7], [0.3, 0.5]) == pytest.approx(0.2 / 0.5)


def test_partial_overlap_by_hand():
    # intersection [0.3, 0.4] = 0.1, union [0.1, 0.6] = 0.5
    assert iou1([0.1, 0.4], [0.3, 0.6]) == pytest.approx(0.2)


def test_zero_length_segments():
    assert iou1([0.4, 0.4], [0.4, 0.4]) == 1.0  # 1e-10 / 1e-10
    assert iou1([0.4, 0.4], [0.2, 0.7]) == pytest.approx(EPS / (0.5 + EPS))
    assert iou1([0.1, 0.1], [0.2, 0.7]) == 0.0


def test_single_segment_and_batch_shapes():
    assert as_segments([0.1, 0.2]).shape == (1, 2)
    ious = temporal_iou(np.array([[0.0, 1.0]] * 5), np.array([[0.0, 0.5]] * 5))
    assert ious.shape == (5,)
    np.testing.assert_allclose(ious, 0.5)


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[0.1, 0.3], [0.6, 0.2]], r"predicted\[1\] = \[0.6, 0.2\] has start > end"),
        ([[0.1, 0.3], [0.2, 0.4], [-0.1, 0.2]], r"predicted\[2\] .* outside \[0, 1\]"),
        ([[0.1, 1.5]], r"predicted\[0\] .* outside \[0, 1\]"),
        ([[0.1, float("nan")]], r"predicted\[0\] .* not finite"),
        ([[0.1, float("inf")]], r"predicted\[0\] .* not finite"),
    ],
)
def test_bad_predictions_name_the_offending_index(bad, message):
    with pytest.raises(ValueError, match=message):
        temporal_iou(bad, [[0.0, 1.0]] * len(bad))


def test_bad_ground_truth_is_named_as_such():
    with pytest.raises(ValueError, match=r"ground_truth\[0\]"):
        temporal_iou([[0.0, 1.0]], [[0.7, 0.3]])


def test_wrong_shapes_are_rejected():
    with pytest.raises(ValueError, match=r"shape \[Q, 2\]"):
        temporal_iou([[0.0, 0.5, 1.0]], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="2 segments but ground_truth has 1"):
        temporal_iou([[0.0, 0.5], [0.1, 0.2]], [[0.0, 1.0]])


def test_recall_counts_iou_at_least_threshold():
    ious = np.array([0.05, 0.3, 0.5, 0.69, 0.95])
    assert recall_at_iou(ious) == {0.1: 0.8, 0.3: 0.8, 0.5: 0.6, 0.7: 0.2, 0.9: 0.2}
    with pytest.raises(ValueError, match="at least one query"):
        recall_at_iou([])


def test_localization_metrics_row():
    pred = [[0.0, 0.5], [0.2, 0.6], [0.7, 0.9]]
    gt = [[0.0, 0.5], [0.3, 0.7], [0.0, 0.2]]
    row = localization_metrics(pred, gt)
    assert list(row) == ["R@0.1", "R@0.3", "R@0.5", "R@0.7", "R@0.9", "mIoU"]
    assert row["R@0.5"] == pytest.approx(2 / 3)  # 1.0 and 0.6 pass, 0.0 fails
    assert row["R@0.7"] == pytest.approx(1 / 3)
    assert row["mIoU"] == pytest.approx((1.0 + 0.3 / 0.5 + 0.0) / 3)


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def segments(draw):
    a, b = draw(unit), draw(unit)
    return [min(a, b), max(a, b)]


@given(segments(), segments())
def test_iou_is_symmetric_and_in_unit_interval(p, g):
    forward, backward = iou1(p, g), iou1(g, p)
    assert forward == backward
    assert 0.0 <= forward <= 1.0


@given(segments())
def test_iou_of_a_segment_with_itself_is_exactly_one(p):
    assert iou1(p, p) == 1.0


@given(st.lists(st.tuples(segments(), segments()), min_size=1, max_size=30))
def test_vectorised_equals_one_by_one(pairs):
    pred = [p for p, _ in pairs]
    gt = [g for _, g in pairs]
    np.testing.assert_array_equal(temporal_iou(pred, gt), [iou1(p, g) for p, g in pairs])


# --- Charades-CD's discounted recall dR@1 -----------------------------------------------------------
def test_perfect_prediction_has_discounted_recall_one():
    assert discounted_recall([[0.2, 0.6], [0.0, 1.0]], [[0.2, 0.6], [0.0, 1.0]]) == {
        0.3: 1.0,
        0.5: 1.0,
        0.7: 1.0,
    }


def test_iou_below_the_threshold_scores_zero_whatever_the_discount():
    # intersection [0.1, 0.2] = 0.1, union [0.0, 0.5] = 0.5: IoU 0.2 < 0.3
    assert discounted_recall([[0.0, 0.2]], [[0.1, 0.5]]) == {0.3: 0.0, 0.5: 0.0, 0.7: 0.0}


def test_shifted_prediction_scores_the_product_of_the_two_discounts():
    # start off by 0.1, end exact: IoU 0.3 / 0.4 = 0.75, discount (1 - 0.1) * (1 - 0) = 0.9
    assert discounted_recall([[0.3, 0.6]], [[0.2, 0.6]]) == pytest.approx({0.3: 0.9, 0.5: 0.9, 0.7: 0.9})
    # both off by 0.1: IoU 0.3 / 0.5 = 0.6, discount 0.9 * 0.9 = 0.81, a hit at 0.3 and 0.5 but not at 0.7
    assert discounted_recall([[0.1, 0.5]], [[0.2, 0.6]]) == pytest.approx({0.3: 0.81, 0.5: 0.81, 0.7: 0.0})


def test_discounted_metrics_row_averages_over_queries():
    pred = [[0.2, 0.6], [0.1, 0.5], [0.0, 0.2]]
    gt = [[0.2, 0.6], [0.2, 0.6], [0.1, 0.5]]
    row = discounted_metrics(pred, gt)
    assert list(row) == ["dR@0.3", "dR@0.5", "dR@0.7"] and DR_THRESHOLDS == (0.3, 0.5, 0.7)
    assert row == pytest.approx({"dR@0.3": (1 + 0.81 + 0) / 3, "dR@0.5": (1 + 0.81 + 0) / 3, "dR@0.7": 1 / 3})
    # the plain R@1 of the same predictions: the discount only lowers it
    plain = localization_metrics(pred, gt)
    assert (plain["R@0.3"], plain["R@0.5"], plain["R@0.7"]) == pytest.approx((2 / 3, 2 / 3, 1 / 3))


def test_discounted_recall_rejects_bad_input():
    with pytest.raises(ValueError, match=r"shape \[Q, 2\]"):
        discounted_recall([[0.0, 0.5, 1.0]], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="2 segments but ground_truth has 1"):
        discounted_recall([[0.0, 0.5], [0.1, 0.2]], [[0.0, 1.0]])
    with pytest.raises(ValueError, match=r"ground_truth\[1\] .* start > end"):
        discounted_metrics([[0.0, 0.5], [0.1, 0.2]], [[0.0, 1.0], [0.6, 0.4]])
    with pytest.raises(ValueError, match="at least one query"):
        discounted_recall(np.zeros((0, 2)), np.zeros((0, 2)))


@given(st.lists(st.tuples(segments(), segments()), min_size=1, max_size=30))
def test_discounted_recall_is_at_most_recall(pairs):
    pred, gt = [p for p, _ in pairs], [g for _, g in pairs]
    plain = recall_at_iou(temporal_iou(pred, gt), DR_THRESHOLDS)
    for t, value in discounted_recall(pred, gt).items():
        assert 0.0 <= value <= plain[t] + 1e-12
