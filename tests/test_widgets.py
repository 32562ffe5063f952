"""The IoU explorer of chapter 1 (cnm_minimal/widgets.py)."""

from cnm_minimal.widgets import iou_explorer, iou_report_html, iou_summary


def test_summary_reports_iou_and_hits():
    line = iou_summary((0.2, 0.55), (0.35, 0.8))
    assert "IoU = 0.333" in line
    assert "0.3: hit" in line and "0.5: miss" in line


def test_report_draws_both_segments_and_the_overlap():
    html = iou_report_html((0.2, 0.55), (0.35, 0.8))
    assert html.count("<rect") == 3          # overlap, ground truth, prediction
    assert iou_report_html((0.0, 0.2), (0.5, 0.9)).count("<rect") == 2   # no overlap drawn


def test_explorer_recomputes_when_a_slider_moves():
    box = iou_explorer(predicted=(0.2, 0.55), ground_truth=(0.35, 0.8))
    gt, pred, report = box.children
    assert "IoU = 0.333" in report.value
    pred.value = (0.35, 0.8)
    assert "IoU = 1.000" in report.value
