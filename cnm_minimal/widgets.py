"""Interactive explorers used by the chapters (ipywidgets).

In Jupyter every slider move re-runs Python. In the static HTML book the widgets are shown from
their saved state: the sliders move, but the numbers shown stay those saved when the notebook was
executed (launch the notebook to play with it).
"""

from __future__ import annotations

from html import escape

from cnm_minimal.metrics import IOU_THRESHOLDS, temporal_iou

_PRED, _GT, _BOTH = "#1f77b4", "#2ca02c", "#ff7f0e"


def iou_summary(predicted, ground_truth, thresholds=IOU_THRESHOLDS) -> str:
    """One line of text: the two segments, their IoU and, if ``thresholds``, which R@1 thresholds pass."""
    (ps, pe), (gs, ge) = predicted, ground_truth
    iou = float(temporal_iou([predicted], [ground_truth])[0])
    line = f"prediction [{ps:.2f}, {pe:.2f}]  ground truth [{gs:.2f}, {ge:.2f}]  IoU = {iou:.3f}"
    if thresholds:
        line += "  (" + ", ".join(f"{t:g}: {'hit' if iou >= t else 'miss'}" for t in thresholds) + ")"
    return line


def iou_report_html(predicted, ground_truth, thresholds=IOU_THRESHOLDS, width: int = 560) -> str:
    """An SVG timeline of one predicted and one ground-truth segment, their IoU and the R@1 hits."""
    (ps, pe), (gs, ge) = predicted, ground_truth
    iou = float(temporal_iou([predicted], [ground_truth])[0])
    x = lambda t: 20 + t * (width - 40)  # noqa: E731 - a tiny coordinate map
    inter_s, inter_e = max(ps, gs), min(pe, ge)
    overlap = ""
    if inter_e > inter_s:
        overlap = (f'<rect x="{x(inter_s):.1f}" y="8" width="{x(inter_e) - x(inter_s):.1f}" height="64" '
                   f'fill="{_BOTH}" opacity="0.25"/>')
    ticks = "".join(
        f'<line x1="{x(t):.1f}" y1="74" x2="{x(t):.1f}" y2="80" stroke="#444"/>'
        f'<text x="{x(t):.1f}" y="94" font-size="11" text-anchor="middle">{t:.1f}</text>'
        for t in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    )
    svg = (
        f'<svg width="{width}" height="100" xmlns="http://www.w3.org/2000/svg">{overlap}'
        f'<rect x="{x(gs):.1f}" y="14" width="{max(x(ge) - x(gs), 1.5):.1f}" height="22" fill="{_GT}"/>'
        f'<text x="6" y="30" font-size="11">G</text>'
        f'<rect x="{x(ps):.1f}" y="44" width="{max(x(pe) - x(ps), 1.5):.1f}" height="22" fill="{_PRED}"/>'
        f'<text x="6" y="60" font-size="11">P</text>'
        f'<line x1="{x(0):.1f}" y1="74" x2="{x(1):.1f}" y2="74" stroke="#444"/>{ticks}</svg>'
    )
    cells = "".join(
        f'<td style="padding:2px 8px;text-align:center">{"&#10003;" if iou >= t else "&#10007;"}</td>'
        for t in thresholds
    )
    header = "".join(f'<th style="padding:2px 8px">R@1, IoU={t:g}</th>' for t in thresholds)
    summary = escape(iou_summary(predicted, ground_truth, thresholds=()))
    return (f"<div>{svg}<div style='font-family:monospace'>{summary}</div>"
            f"<table><tr>{header}</tr><tr>{cells}</tr></table></div>")


def iou_explorer(predicted=(0.20, 0.55), ground_truth=(0.35, 0.80)):
    """Two range sliders (prediction, ground truth) and a live IoU / R@1 report."""
    import ipywidgets as widgets

    style = {"description_width": "110px"}
    layout = widgets.Layout(width="560px")
    pred = widgets.FloatRangeSlider(value=predicted, min=0.0, max=1.0, step=0.01, description="prediction",
                                    style=style, layout=layout, readout_format=".2f")
    gt = widgets.FloatRangeSlider(value=ground_truth, min=0.0, max=1.0, step=0.01, description="ground truth",
                                  style=style, layout=layout, readout_format=".2f")
    report = widgets.HTML()

    def update(_change=None):
        report.value = iou_report_html(pred.value, gt.value)

    pred.observe(update, names="value")
    gt.observe(update, names="value")
    update()
    return widgets.VBox([gt, pred, report])


def _figure_html(fig) -> str:
    import base64
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"/>'


def video_browser(queries, features, video_ids=None):
    """Pick a video: its features as a heatmap, with every query's moment on a timeline above it.

    ``queries`` are :class:`~cnm_minimal.data.annotations.Query` records, ``features`` a
    :class:`~cnm_minimal.data.features.FeatureStore`.
    """
    import ipywidgets as widgets

    from cnm_minimal.plots import plot_video

    by_video: dict[str, list] = {}
    for q in queries:
        by_video.setdefault(q.vid, []).append(q)
    options = list(video_ids or by_video)

    def draw(fig, video):
        rows = by_video[video]
        fig.set_size_inches(8, 2.2 + 0.25 * len(rows))
        plot_video(fig.add_subplot(), features.load(video), rows[0].duration, rows, f"{video}: {rows[0].duration:.1f} s")

    return figure_explorer(draw, video=widgets.Dropdown(options=options, value=options[0], description="video"))


def figure_explorer(draw, figsize=(8, 3), **controls):
    """Sliders (or any value widgets) in ``controls``; ``draw(fig, **values)`` redraws a figure below them.

    The figure is an image inside an HTML widget, so the book's static page shows it at the saved values.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    picture = widgets.HTML()

    def update(_change=None):
        fig = plt.figure(figsize=figsize)
        draw(fig, **{name: control.value for name, control in controls.items()})
        picture.value = _figure_html(fig)

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return widgets.VBox([*controls.values(), picture])
