"""Interactive explorers used by the chapters (ipywidgets, and their static HTML for the book).

One call in a notebook gives two things. In Jupyter it displays a live ipywidgets box: every move of a
control re-runs Python and redraws. In the HTML book, which has no Python behind it, the explorer shows
its ``text/html`` representation instead (``_config.yml`` makes the HTML builder prefer it to the widget
view): one ``<div class="cnm-explorer">`` with its controls and its picture at the values shown, and, in
``data-`` attributes, what ``book/_ext/static/cnm_explorers.js`` needs to make it respond there:

* The explorers that need no model recompute in the browser: :func:`iou_explorer` (chapter 1),
  :func:`gaussian_mask_explorer` (3), :func:`mask_samples_explorer` (4), :func:`attention_explorer` (5) and
  :func:`ivc_explorer` (7). Each also carries a few states computed here with the package's own functions
  (``data-checks``): ``tools/check_site.py`` has the browser recompute them and compare, and the unit tests
  do the same under Node.
* :func:`figure_explorer` draws any figure, possibly with a model, so the browser cannot recompute it; it
  precomputes the pictures of few states and otherwise shows its controls disabled with a note
  (:func:`static_plan` decides).

Without JavaScript (a notebook viewer) the static controls stay disabled and the picture shows the values
they show.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
from html import escape

import ipywidgets as widgets
import numpy as np

from cnm_minimal.metrics import IOU_THRESHOLDS, temporal_iou

_PRED, _GT, _BOTH = "#1f77b4", "#2ca02c", "#ff7f0e"

STATIC_STATES = 12
"""The most pictures :func:`figure_explorer` precomputes for the book (see :func:`static_plan`)."""

STATIC_BYTES = 1_000_000
"""The most bytes of precomputed pictures one explorer adds to its notebook; beyond, it shows one, fixed."""

FIXED_NOTE = "Run this notebook to explore (the picture shows the values above)."


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
        overlap = (
            f'<rect x="{x(inter_s):.1f}" y="8" width="{x(inter_e) - x(inter_s):.1f}" height="64" '
            f'fill="{_BOTH}" opacity="0.25"/>'
        )
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
    return (
        f"<div>{svg}<div style='font-family:monospace'>{summary}</div>"
        f"<table><tr>{header}</tr><tr>{cells}</tr></table></div>"
    )


# --------------------------------------------------------------------------------------------------
# The explorer box and its static HTML


class Explorer(widgets.VBox):
    """An ipywidgets box whose rich display also carries its static HTML for the book (``text/html``).

    Jupyter shows the widget view; the HTML book shows :meth:`static_html` (see the module docstring).
    """

    def __init__(self, children, static_html):
        super().__init__(children)
        self._static_html = static_html

    def static_html(self) -> str:
        """The explorer as one self-contained ``<div class="cnm-explorer">``, at the values shown now."""
        return self._static_html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/html"] = self.static_html()
        return bundle


def _attribute(value) -> str:
    return escape(json.dumps(value, separators=(",", ":")), quote=True)


def _decimals(control) -> int:
    found = re.search(r"\.(\d+)f", getattr(control, "readout_format", "") or "")
    return int(found.group(1)) if found else (0 if isinstance(control.value, int) else 2)


def _options(control) -> list[tuple[str, object]]:
    """``(label, value)`` of a selection widget's options (strings, ``(label, value)`` pairs or objects)."""
    pairs = []
    for option in control.options:
        if isinstance(option, tuple) and len(option) == 2:
            pairs.append((str(option[0]), option[1]))
        else:
            pairs.append((str(option), option))
    return pairs


def _range_html(name: str, label: str, low, high, step, value, decimals: int, labels=None) -> str:
    data = f'data-labels="{_attribute(labels)}"' if labels is not None else f'data-decimals="{decimals}"'
    readout = labels[int(value)] if labels is not None else f"{value:.{decimals}f}"
    return (
        f'<label class="cnm-control"><span class="cnm-label">{escape(label)}</span><input type="range" '
        f'name="{name}" min="{low}" max="{high}" step="{step}" value="{value}" {data} disabled>'
        f"<output>{escape(readout)}</output></label>"
    )


def _select_html(name: str, label: str, labels: list[str], chosen: int) -> str:
    options = "".join(
        f'<option value="{k}"{" selected" if k == chosen else ""}>{escape(text)}</option>'
        for k, text in enumerate(labels)
    )
    return (
        f'<label class="cnm-control"><span class="cnm-label">{escape(label)}</span>'
        f'<select name="{name}" disabled>{options}</select></label>'
    )


def _control_html(name: str, control, labels: list[str] | None = None, index: int = 0) -> str:
    """A widget as a disabled HTML control (``cnm_explorers.js`` enables the ones it drives).

    With ``labels`` the control picks among precomputed states, by index: a ``<select>``, or for a slider
    a slider over the precomputed positions.
    """
    label = control.description or name
    if labels is not None:
        if _is_slider(control):
            return _range_html(name, label, 0, len(labels) - 1, 1, index, 0, labels)
        return _select_html(name, label, labels, index)
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        checked = " checked" if control.value else ""
        return (
            f'<label class="cnm-control"><span class="cnm-label"></span><input type="checkbox" '
            f'name="{name}"{checked} disabled> {escape(label)}</label>'
        )
    if isinstance(control, widgets.widget_selection._Selection):
        return _select_html(name, label, [str(control.label)], 0)
    if _is_slider(control):
        return _range_html(
            name, label, control.min, control.max, control.step, control.value, _decimals(control)
        )
    return (
        f'<label class="cnm-control"><span class="cnm-label">{escape(label)}</span>'
        f'<input type="text" name="{name}" value="{escape(str(control.value))}" disabled></label>'
    )


def _is_slider(control) -> bool:
    return isinstance(control, (widgets.IntSlider, widgets.FloatSlider))


def _explorer_html(
    kind: str, controls_html: str, picture_html: str, config=None, checks=None, note: str = ""
) -> str:
    attributes = f' data-kind="{kind}"'
    if config is not None:
        attributes += f' data-config="{_attribute(config)}"'
    if checks is not None:
        attributes += f' data-checks="{_attribute(checks)}"'
    note_html = f'<p class="cnm-note">{escape(note)}</p>' if note else ""
    return (
        f'<div class="cnm-explorer"{attributes}><div class="cnm-controls">{controls_html}</div>{note_html}'
        f'<div class="cnm-picture">{picture_html}</div></div>'
    )


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure_html(fig) -> str:
    return f'<img src="{_png(fig)}"/>'


def _live_figure(draw, figsize, controls: dict):
    """The HTML widget showing ``draw(fig, **values)``, redrawn whenever one of ``controls`` changes."""
    import matplotlib.pyplot as plt

    picture = widgets.HTML()

    def update(_change=None):
        fig = plt.figure(figsize=figsize)
        draw(fig, **{name: control.value for name, control in controls.items()})
        picture.value = _figure_html(fig)

    for control in controls.values():
        control.observe(update, names="value")
    update()
    return picture


def _client_explorer(kind: str, draw, figsize, controls: dict, config, checks) -> Explorer:
    """A live figure in Jupyter; in the book, controls that ``cnm_explorers.js`` drives (kind ``kind``)."""
    picture = _live_figure(draw, figsize, controls)

    def static():
        controls_html = "".join(_control_html(name, control) for name, control in controls.items())
        return _explorer_html(kind, controls_html, picture.value, config, checks)

    return Explorer([*controls.values(), picture], static)


def _slider(value, low, high, step, description):
    kind = widgets.IntSlider if isinstance(value, int) and isinstance(step, int) else widgets.FloatSlider
    return kind(
        value=value,
        min=low,
        max=high,
        step=step,
        description=description,
        style={"description_width": "110px"},
        layout=widgets.Layout(width="560px"),
    )


# --------------------------------------------------------------------------------------------------
# Chapter 1: the IoU


def iou_explorer(predicted=(0.20, 0.55), ground_truth=(0.35, 0.80)):
    """Two range sliders (prediction, ground truth) and a live IoU / R@1 report."""
    style = {"description_width": "110px"}
    layout = widgets.Layout(width="560px")
    pred = widgets.FloatRangeSlider(
        value=predicted,
        min=0.0,
        max=1.0,
        step=0.01,
        description="prediction",
        style=style,
        layout=layout,
        readout_format=".2f",
    )
    gt = widgets.FloatRangeSlider(
        value=ground_truth,
        min=0.0,
        max=1.0,
        step=0.01,
        description="ground truth",
        style=style,
        layout=layout,
        readout_format=".2f",
    )
    report = widgets.HTML()

    def update(_change=None):
        report.value = iou_report_html(pred.value, gt.value)

    pred.observe(update, names="value")
    gt.observe(update, names="value")
    update()

    def static():
        ends = [
            ("gs", "ground truth start", gt.value[0]),
            ("ge", "ground truth end", gt.value[1]),
            ("ps", "prediction start", pred.value[0]),
            ("pe", "prediction end", pred.value[1]),
        ]
        controls = "".join(_range_html(name, text, 0.0, 1.0, 0.01, value, 2) for name, text, value in ends)
        states = [
            (pred.value, gt.value),
            ((0.35, 0.8), (0.35, 0.8)),
            ((0.0, 0.2), (0.5, 0.9)),
            ((0.1, 0.6), (0.3, 0.9)),
        ]
        checks = [
            {"state": {"ps": p[0], "pe": p[1], "gs": g[0], "ge": g[1]}, "expect": _iou_values(p, g)}
            for p, g in states
        ]
        return _explorer_html("iou", controls, report.value, {"thresholds": list(IOU_THRESHOLDS)}, checks)

    return Explorer([gt, pred, report], static)


def _iou_values(predicted, ground_truth) -> dict:
    iou = float(temporal_iou([predicted], [ground_truth])[0])
    return {"iou": iou, "hits": [float(iou >= t) for t in IOU_THRESHOLDS]}


# --------------------------------------------------------------------------------------------------
# Chapter 3: the Gaussian mask


def gaussian_mask_values(centre: float, width: float, alpha: float, num_slots: int) -> dict:
    """The mask ``m`` on the ``num_slots`` slots and the predicted segment, by the package's own functions."""
    import torch

    from cnm_minimal.gaussian_mask import gaussian_mask, predict_segment

    c, w = torch.tensor([float(centre)]), torch.tensor([float(width)])
    return {
        "m": gaussian_mask(c, w, int(num_slots), float(alpha))[0].tolist(),
        "segment": predict_segment(c, w)[0].tolist(),
    }


def _draw_gaussian(fig, c, w, alpha, P):
    values = gaussian_mask_values(c, w, alpha, P)
    s, e = values["segment"]
    ax = fig.add_subplot()
    ax.bar(np.linspace(0, 1, P), values["m"], width=0.75 / max(P - 1, 1), color="tab:blue")
    ax.axvspan(s, e, color="tab:orange", alpha=0.2, label=f"prediction [{s:.2f}, {e:.2f}]")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("slot position t")
    ax.set_ylabel("m")
    ax.legend(loc="upper right")
    ax.set_title(f"c = {c:.2f}, w = {w:.2f}, alpha = {alpha:.1f}, P = {P}", fontsize=9)


def gaussian_mask_explorer(centre: float = 0.4, width: float = 0.25, alpha: float = 5.5, num_slots: int = 50):
    """Sliders for the centre, width, alpha and number of slots P; the mask of chapter 3 and its segment."""
    controls = {
        "c": _slider(centre, 0.0, 1.0, 0.01, "centre c"),
        "w": _slider(width, 0.0, 0.45, 0.01, "width w"),
        "alpha": _slider(alpha, 0.5, 20.0, 0.5, "alpha"),
        "P": _slider(num_slots, 5, 100, 1, "P slots"),
    }
    states = [
        (centre, width, alpha, num_slots),
        (0.5, 0.05, 5.5, 50),
        (0.13, 0.45, 20.0, 7),
        (1.0, 0.3, 0.5, 100),
    ]
    checks = [
        {"state": {"c": c, "w": w, "alpha": a, "P": p}, "expect": gaussian_mask_values(c, w, a, p)}
        for c, w, a, p in states
    ]
    return _client_explorer("gaussian", _draw_gaussian, (8, 2.8), controls, {}, checks)


# --------------------------------------------------------------------------------------------------
# Chapter 4: what each sample keeps


def mask_samples_values(signal: dict, centre: float, width: float, alpha: float = 5.5) -> dict:
    """For each sample of :func:`cnm_minimal.negatives.mine_samples`, the weighted mean of each ``signal``."""
    import torch

    from cnm_minimal.gaussian_mask import gaussian_mask
    from cnm_minimal.negatives import mine_samples

    values = {name: torch.as_tensor(np.asarray(v, dtype=np.float32)) for name, v in signal.items()}
    slots = len(next(iter(values.values())))
    samples = mine_samples(
        gaussian_mask(torch.tensor([float(centre)]), torch.tensor([float(width)]), slots, alpha)
    )
    return {
        sample: [float((weights[0] * v).sum() / weights[0].sum()) for v in values.values()]
        for sample, weights in samples.items()
    }


def mask_samples_explorer(signal: dict, centre: float = 0.8, width: float = 0.28, alpha: float = 5.5):
    """Move a Gaussian mask; bars show what the positive, easy and hard samples keep of each ``signal``.

    ``signal`` maps a name to one value per proposal slot (chapter 4: the concept signals of a video).
    """
    names = list(signal)

    def draw(fig, c, w):
        kept = mask_samples_values(signal, c, w, alpha)
        axes = fig.subplots(1, 3, sharey=True)
        for ax, sample in zip(axes, ("positive", "easy", "hard")):
            ax.bar(names, kept[sample], color=[f"C{k}" for k in range(len(names))])
            ax.set_title(sample, fontsize=9)
            ax.axhline(0, color="k", lw=0.5)
        axes[0].set_ylabel("average concept signal kept")

    controls = {
        "c": _slider(centre, 0.0, 1.0, 0.01, "centre c"),
        "w": _slider(width, 0.05, 0.45, 0.01, "width w"),
    }
    config = {
        "alpha": alpha,
        "names": names,
        "signal": [np.asarray(signal[n], dtype=float).tolist() for n in names],
    }
    checks = [
        {"state": {"c": c, "w": w}, "expect": mask_samples_values(signal, c, w, alpha)}
        for c, w in ((centre, width), (0.3, 0.05), (0.0, 0.45))
    ]
    return _client_explorer("samples", draw, (8, 2.6), controls, config, checks)


# --------------------------------------------------------------------------------------------------
# Chapter 5: mask-conditioned attention


def _first_sequence(keys):
    import torch

    keys = torch.as_tensor(keys)
    return keys[:1] if keys.dim() == 3 else keys[None]


def attention_values(mha, keys, centre: float, width: float, causal: bool, alpha: float = 5.5):
    """``(weights [S, S], m [S])``: the self-attention of ``mha`` over ``keys[0]`` with the Gaussian mask
    (centre, width) on its keys, heads averaged (the from-scratch path, Eq. 6), and the mask."""
    import torch

    from cnm_minimal.gaussian_mask import gaussian_mask

    keys = _first_sequence(keys)
    mask = gaussian_mask(torch.tensor([float(centre)]), torch.tensor([float(width)]), keys.shape[1], alpha)
    fast, mha.fast = mha.fast, False  # the from-scratch path returns the weights
    try:
        with torch.no_grad():
            _, weights = mha(keys, keys, key_weights=mask, causal=bool(causal))
    finally:
        mha.fast = fast
    return weights[0].mean(0), mask[0]


def _unmasked_weights(mha, keys) -> tuple[str, list[int]]:
    """The per-head attention ``[H, S, S]`` without mask and causality, float32 in base64, and its shape."""
    import torch

    keys = _first_sequence(keys)
    fast, mha.fast = mha.fast, False
    try:
        with torch.no_grad():
            _, weights = mha(keys, keys)
    finally:
        mha.fast = fast
    return base64.b64encode(weights[0].numpy().astype("<f4").tobytes()).decode(), list(weights[0].shape)


def attention_explorer(
    mha, keys, centre: float = 0.5, width: float = 0.2, causal: bool = True, alpha: float = 5.5
):
    """Move a Gaussian mask over the keys of ``mha``'s self-attention (chapter 5): the map and its last row.

    ``mha`` is a :class:`cnm_minimal.attention.MultiheadAttention`, ``keys`` ``[B, S, d]`` (the first is
    used).
    The browser gets the unmasked per-head weights and applies Eq. 6 (causal cut, mask, renormalisation).
    """

    def draw(fig, c, w, causal):
        weights, mask = attention_values(mha, keys, c, w, causal, alpha)
        left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.3, 1]})
        left.imshow(weights.numpy(), cmap="viridis", vmin=0, vmax=0.3)
        left.set_xlabel("key clip")
        left.set_ylabel("query clip")
        left.set_title("attention (self, heads averaged)", fontsize=9)
        right.plot(weights[-1].numpy(), label="last query's attention")
        right.plot((mask / mask.sum()).numpy(), "--", label="m (normalised)")
        right.legend(fontsize=7)
        right.set_xlabel("key clip")

    controls = {
        "c": _slider(centre, 0.0, 1.0, 0.01, "centre c"),
        "w": _slider(width, 0.05, 0.45, 0.01, "width w"),
        "causal": widgets.Checkbox(value=causal, description="causal"),
    }
    encoded, shape = _unmasked_weights(mha, keys)
    checks = []
    for c, w, cut in ((centre, width, causal), (0.2, 0.1, False), (0.9, 0.45, True)):
        weights, _ = attention_values(mha, keys, c, w, cut, alpha)
        middle = weights.shape[0] // 2
        checks.append(
            {
                "state": {"c": c, "w": w, "causal": cut},
                "expect": {"last_row": weights[-1].tolist(), "middle_row": weights[middle].tolist()},
            }
        )
    config = {"alpha": alpha, "weights": encoded, "shape": shape, "vmax": 0.3}
    return _client_explorer("attention", draw, (9, 3.2), controls, config, checks)


# --------------------------------------------------------------------------------------------------
# Chapter 7: the IVC hinges on a toy reconstructor


def ivc_values(
    relevance,
    centre: float,
    width: float,
    alpha: float = 5.5,
    beta1: float = 0.1,
    beta2: float = 0.15,
    floor: float = 1e-3,
) -> dict:
    """Chapter 7's toy: ``L(w) = -log(floor + sum(w r) / sum(w))`` for the three samples, and the hinges.

    ``L^p = L(m)``, ``L^h = L(1)``, ``L^e = L(1 - m)``; the hinges and their sum by
    :func:`cnm_minimal.losses.ivc_loss` (margins ``beta1`` against the hard, ``beta2`` against the easy
    negative).
    """
    import torch

    from cnm_minimal.gaussian_mask import gaussian_mask
    from cnm_minimal.losses import ivc_loss

    r = torch.as_tensor(np.asarray(relevance, dtype=np.float32))
    m = gaussian_mask(torch.tensor([float(centre)]), torch.tensor([float(width)]), len(r), alpha)[0]

    def loss(weights):
        return -torch.log(floor + (weights * r).sum() / weights.sum())

    lp, lh, le = loss(m), loss(torch.ones_like(m)), loss(1 - m)
    hard = ivc_loss(lp, lh, None, beta1=beta1, beta2=beta2)
    easy = ivc_loss(lp, None, le, beta1=beta1, beta2=beta2)
    total = ivc_loss(lp, lh, le, beta1=beta1, beta2=beta2)
    return {
        "lp": lp.item(),
        "lh": lh.item(),
        "le": le.item(),
        "hard": hard.item(),
        "easy": easy.item(),
        "total": total.item(),
        "m": m.tolist(),
    }


def ivc_explorer(
    relevance,
    centre: float = 0.3,
    width: float = 0.2,
    alpha: float = 5.5,
    beta1: float = 0.1,
    beta2: float = 0.15,
    floor: float = 1e-3,
):
    """Move the mask and the margins: the toy losses of chapter 7, the two hinges and L_IVC
    (:func:`ivc_values`).

    ``relevance`` is one value in [0, 1] per proposal slot (how much each slot shows the sentence).
    """
    r = np.asarray(relevance, dtype=float)
    t = np.linspace(0, 1, len(r))

    def draw(fig, c, w, beta1, beta2):
        v = ivc_values(r, c, w, alpha, beta1, beta2, floor)
        left, middle, right = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.6, 1, 1]})
        left.bar(t, r, width=0.9 / max(len(r) - 1, 1), color="tab:orange", alpha=0.5, label="relevance r")
        left.plot(t, v["m"], color="tab:blue", label="m")
        left.plot(t, 1 - np.asarray(v["m"]), "--", color="tab:gray", label="1 - m")
        left.legend(fontsize=7, loc="upper left")
        left.set_xlabel("slot position")
        names = ["L^p", "L^h", "L^e", "hard hinge", "easy hinge"]
        middle.barh(
            names,
            [v["lp"], v["lh"], v["le"], v["hard"], v["easy"]],
            color=["tab:blue", "tab:gray", "tab:gray", "tab:red", "tab:red"],
        )
        middle.invert_yaxis()
        middle.set_title(f"L_IVC = {v['total']:.3f}", fontsize=9)
        gap = np.linspace(-1, 1, 201)
        for margin, name, value, colour in (
            (beta1, "hard", v["lp"] - v["lh"], "tab:red"),
            (beta2, "easy", v["lp"] - v["le"], "tab:purple"),
        ):
            right.plot(
                gap, np.maximum(gap + margin, 0), color=colour, label=f"{name}: max(gap + {margin:.2f}, 0)"
            )
            right.plot([value], [max(value + margin, 0)], "o", color=colour)
        right.set_xlabel("gap L^p - L^neg")
        right.legend(fontsize=6, loc="upper left")
        right.set_title("hinge against the gap", fontsize=9)

    controls = {
        "c": _slider(centre, 0.0, 1.0, 0.01, "centre c"),
        "w": _slider(width, 0.02, 0.45, 0.01, "width w"),
        "beta1": _slider(beta1, 0.0, 0.5, 0.01, "beta1 (hard)"),
        "beta2": _slider(beta2, 0.0, 0.5, 0.01, "beta2 (easy)"),
    }
    config = {"relevance": r.tolist(), "alpha": alpha, "floor": floor}
    checks = [
        {
            "state": {"c": c, "w": w, "beta1": b1, "beta2": b2},
            "expect": ivc_values(r, c, w, alpha, b1, b2, floor),
        }
        for c, w, b1, b2 in (
            (centre, width, beta1, beta2),
            (0.68, 0.25, 0.1, 0.15),
            (0.25, 0.02, 0.3, 0.0),
            (0.5, 0.45, 0.0, 0.5),
        )
    ]
    return _client_explorer("ivc", draw, (11, 2.8), controls, config, checks)


# --------------------------------------------------------------------------------------------------
# Any figure (possibly with a model): precomputed pictures, or fixed controls


def _choices(control) -> list | None:
    """Every value a control can take, or None when they are not a short list (a text box, a range)."""
    if isinstance(control, widgets.widget_selection._Selection):
        return [value for _, value in _options(control)]
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return [False, True]
    if isinstance(control, widgets.IntSlider):
        return list(range(control.min, control.max + 1, control.step))
    if isinstance(control, widgets.FloatSlider) and control.step:
        count = int(round((control.max - control.min) / control.step)) + 1
        return [round(control.min + k * control.step, 10) for k in range(count)]
    return None


def static_plan(controls: dict, max_states: int = STATIC_STATES) -> tuple[str, dict | None]:
    """How :func:`figure_explorer` shows itself in the book, from its controls: ``(mode, values)``.

    * ``"all"``: the controls take at most ``max_states`` combinations of values; every picture is
      precomputed and the static controls move among them (``values``: each control's values).
    * ``"some"``: a single selection (a dropdown of more options): the static page offers ``max_states``
      of them, from the current one on, and says so.
    * ``"fixed"``: anything else (sliders with many positions, several controls); one picture, the controls
      disabled, with the note :data:`FIXED_NOTE`.
    """
    choices = {name: _choices(control) for name, control in controls.items()}
    if (
        all(c is not None for c in choices.values())
        and math.prod(len(c) for c in choices.values()) <= max_states
    ):
        return "all", choices
    if len(controls) == 1:
        ((name, control),) = controls.items()
        if isinstance(control, widgets.widget_selection._Selection) and control.index is not None:
            first = max(0, min(control.index, len(choices[name]) - max_states))
            return "some", {name: choices[name][first : first + max_states]}
    return "fixed", None


def _labels(control, values: list) -> list[str]:
    if isinstance(control, widgets.widget_selection._Selection):
        pairs = _options(control)
        return [next(label for label, v in pairs if v is value or v == value) for value in values]
    if isinstance(control, (widgets.Checkbox, widgets.ToggleButton)):
        return ["off", "on"]
    return [f"{v:.{_decimals(control)}f}" for v in values]


def _index(values: list, value) -> int:
    for k, v in enumerate(values):
        if v is value or v == value or (isinstance(v, float) and math.isclose(v, value, abs_tol=1e-9)):
            return k
    raise ValueError(f"{value!r} is not among the precomputed values")


def _figure_static_html(render, controls: dict, max_states: int, current_picture: str) -> str:
    mode, values = static_plan(controls, max_states)
    if mode != "fixed":
        names = list(controls)
        current = [_index(values[n], controls[n].value) for n in names]
        images, size = {}, 0
        for key in np.ndindex(*[len(values[n]) for n in names]):
            image = render({n: values[n][k] for n, k in zip(names, key)})
            size += len(image)
            if size > STATIC_BYTES:
                mode = "fixed"
                break
            images[",".join(map(str, key))] = image
    if mode == "fixed":
        controls_html = "".join(_control_html(name, control) for name, control in controls.items())
        return _explorer_html("fixed", controls_html, current_picture, note=FIXED_NOTE)
    controls_html = "".join(
        _control_html(n, controls[n], _labels(controls[n], values[n]), k) for n, k in zip(names, current)
    )
    note = ""
    if mode == "some":
        ((name, control),) = controls.items()
        note = (
            f"The book offers {len(values[name])} of the {len(control.options)} choices; "
            "run this notebook for all of them."
        )
    picture = f'<img src="{images[",".join(map(str, current))]}"/>'
    return _explorer_html("states", controls_html, picture, {"images": images}, note=note)


def figure_explorer(draw, figsize=(8, 3), **controls):
    """Sliders (or any value widgets) in ``controls``; ``draw(fig, **values)`` redraws a figure below them.

    In the book the figure cannot be redrawn: :func:`static_plan` picks between precomputed pictures for
    every state the static controls can reach, and one picture with the controls disabled.
    """
    import matplotlib.pyplot as plt

    picture = _live_figure(draw, figsize, controls)

    def render(values):
        fig = plt.figure(figsize=figsize)
        draw(fig, **values)
        return _png(fig)

    return Explorer(
        [*controls.values(), picture],
        lambda: _figure_static_html(render, controls, STATIC_STATES, picture.value),
    )


def video_browser(queries, features, video_ids=None):
    """Pick a video: its features as a heatmap, with every query's moment on a timeline above it.

    ``queries`` are :class:`~cnm_minimal.data.annotations.Query` records, ``features`` a
    :class:`~cnm_minimal.data.features.FeatureStore`.
    """
    from cnm_minimal.book.plots import plot_video

    by_video: dict[str, list] = {}
    for q in queries:
        by_video.setdefault(q.vid, []).append(q)
    options = list(video_ids or by_video)

    def draw(fig, video):
        rows = by_video[video]
        fig.set_size_inches(8, 2.2 + 0.25 * len(rows))
        plot_video(
            fig.add_subplot(),
            features.load(video),
            rows[0].duration,
            rows,
            f"{video}: {rows[0].duration:.1f} s",
        )

    return figure_explorer(
        draw, video=widgets.Dropdown(options=options, value=options[0], description="video")
    )
