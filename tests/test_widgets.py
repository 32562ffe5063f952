"""The explorers of the chapters (cnm_minimal/book/widgets.py) and their static HTML for the book.

The browser's formulas (book/_ext/static/cnm_explorers.js) are run under Node, when it is installed, on the
states each explorer embeds with the values the package computed; ``make check-site`` does the same in
Chromium on the built pages.
"""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from cnm_minimal.attention import MultiheadAttention
from cnm_minimal.book import widgets as W
from cnm_minimal.book.widgets import iou_explorer, iou_report_html, iou_summary

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "book" / "_ext" / "static" / "cnm_explorers.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def attribute(page: str, name: str):
    found = re.search(rf'{name}="([^"]*)"', page)
    return None if found is None else html.unescape(found.group(1))


def relevance():
    t = torch.linspace(0, 1, 50)
    r = torch.zeros(50)
    r[(t >= 0.55) & (t <= 0.80)] = 1.0
    r[(t >= 0.15) & (t <= 0.35)] = 0.3
    return r


@pytest.fixture(scope="module")
def attention_parts():
    mha = MultiheadAttention(dim=32, heads=4)
    keys = torch.randn(2, 50, 32, generator=torch.Generator().manual_seed(1))
    return mha, keys


@pytest.fixture(scope="module")
def client_explorers(attention_parts):
    signal = {
        name: np.random.default_rng(k).normal(size=50) for k, name in enumerate(("book", "read", "put"))
    }
    return {
        "iou": iou_explorer(),
        "gaussian": W.gaussian_mask_explorer(),
        "samples": W.mask_samples_explorer(signal),
        "attention": W.attention_explorer(*attention_parts),
        "ivc": W.ivc_explorer(relevance()),
    }


def test_summary_reports_iou_and_hits():
    line = iou_summary((0.2, 0.55), (0.35, 0.8))
    assert "IoU = 0.333" in line
    assert "0.3: hit" in line and "0.5: miss" in line


def test_report_draws_both_segments_and_the_overlap():
    html_ = iou_report_html((0.2, 0.55), (0.35, 0.8))
    assert html_.count("<rect") == 3  # overlap, ground truth, prediction
    assert iou_report_html((0.0, 0.2), (0.5, 0.9)).count("<rect") == 2  # no overlap drawn


def test_explorer_recomputes_when_a_slider_moves():
    box = iou_explorer(predicted=(0.2, 0.55), ground_truth=(0.35, 0.8))
    gt, pred, report = box.children
    assert "IoU = 0.333" in report.value
    pred.value = (0.35, 0.8)
    assert "IoU = 1.000" in report.value
    assert (
        'name="ps"' in box.static_html() and 'value="0.35"' in box.static_html()
    )  # the book shows the values now


def test_every_explorer_displays_the_widget_and_its_static_html(client_explorers):
    for kind, explorer in client_explorers.items():
        bundle = explorer._repr_mimebundle_()
        assert WIDGET_VIEW in bundle, kind  # Jupyter: the live widget
        page = bundle["text/html"]  # the book: the static explorer
        assert page.startswith('<div class="cnm-explorer"') and attribute(page, "data-kind") == kind
        controls = re.findall(r"<(?:input|select)[^>]*>", page)
        assert controls and all(" disabled" in c for c in controls), (
            kind
        )  # enabled only by the browser script
        assert '<img src="data:image/png;base64,' in page or "<svg" in page  # the picture without JavaScript


def test_gaussian_values_are_eq_4_and_the_inference_segment():
    values = W.gaussian_mask_values(0.5, 0.05, 5.5, 7)
    t = np.arange(7) / 6
    assert np.allclose(values["m"], np.exp(-5.5 * (t - 0.5) ** 2 / 0.1**2), atol=1e-6)  # width clamped at 0.1
    assert np.allclose(values["segment"], [0.475, 0.525])
    assert np.allclose(W.gaussian_mask_values(0.9, 0.4, 5.5, 50)["segment"], [0.7, 1.0])


def test_gaussian_explorer_redraws_in_jupyter():
    box = W.gaussian_mask_explorer()
    picture = box.children[-1].value
    box.children[2].value = 12.0  # alpha
    assert box.children[-1].value != picture
    assert 'value="12.0"' in box.static_html()


def test_mask_samples_are_weighted_means_of_the_signals():
    signal = {"a": np.linspace(-1, 1, 50), "b": np.ones(50)}
    kept = W.mask_samples_values(signal, 0.7, 0.2)
    m = np.exp(-5.5 * (np.linspace(0, 1, 50) - 0.7) ** 2 / 0.2**2)
    assert kept["positive"][0] == pytest.approx((m * signal["a"]).sum() / m.sum(), abs=1e-5)
    assert kept["easy"][0] == pytest.approx(((1 - m) * signal["a"]).sum() / (1 - m).sum(), abs=1e-5)
    assert kept["hard"][0] == pytest.approx(signal["a"].mean(), abs=1e-6)
    assert kept["positive"][1] == pytest.approx(1.0) and kept["easy"][1] == pytest.approx(1.0)


def test_attention_is_the_unmasked_weights_cut_and_renormalised(attention_parts):
    """What the browser computes: Eq. 6 and the causal cut as one renormalisation of the unmasked weights."""
    mha, keys = attention_parts
    encoded, shape = W._unmasked_weights(mha, keys)
    a = np.frombuffer(__import__("base64").b64decode(encoded), dtype="<f4").reshape(shape).astype(np.float64)
    for causal in (True, False):
        weights, mask = W.attention_values(mha, keys, 0.3, 0.15, causal)
        cut = np.tril(np.ones(shape[1:])) if causal else np.ones(shape[1:])
        expected = a * (mask.numpy().astype(np.float64) + 1e-10) * cut
        expected = (expected / expected.sum(-1, keepdims=True)).mean(0)
        assert np.allclose(weights.numpy(), expected, atol=1e-6)
    assert mha.fast, "the explorer gives the module back on its fast path"


def test_ivc_values_are_the_toy_of_chapter_7():
    r = relevance()
    values = W.ivc_values(r, 0.3, 0.2, beta1=0.1, beta2=0.15)
    m = np.exp(-5.5 * (np.linspace(0, 1, 50) - 0.3) ** 2 / 0.2**2)
    rr = r.numpy().astype(np.float64)
    loss = lambda w: -np.log(1e-3 + (w * rr).sum() / w.sum())  # noqa: E731
    lp, lh, le = loss(m), loss(np.ones(50)), loss(1 - m)
    assert [values["lp"], values["lh"], values["le"]] == pytest.approx([lp, lh, le], abs=1e-5)
    assert values["hard"] == pytest.approx(max(lp - lh + 0.1, 0), abs=1e-5)
    assert values["easy"] == pytest.approx(max(lp - le + 0.15, 0), abs=1e-5)
    assert values["total"] == pytest.approx(values["hard"] + values["easy"], abs=1e-6)


def run_node(payload):
    script = (
        f"const E = require({json.dumps(str(SCRIPT))});"
        "const items = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(items.map(i => E.check(i.kind, i.config, i.checks))));"
    )
    done = subprocess.run(
        ["node", "-e", script],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_browser_formulas_give_the_package_values(client_explorers):
    payload = []
    for kind, explorer in client_explorers.items():
        page = explorer.static_html()
        checks = json.loads(attribute(page, "data-checks"))
        assert len(checks) >= 3, kind
        payload.append({"kind": kind, "config": json.loads(attribute(page, "data-config")), "checks": checks})
    for item, results in zip(payload, run_node(payload)):
        assert all(r["ok"] for r in results), (item["kind"], [r["detail"] for r in results if not r["ok"]])
    # and the comparison does catch a wrong formula
    wrong = payload[1]["checks"][0]["expect"]["m"]
    wrong[10] += 1e-3
    assert not run_node([payload[1]])[0][0]["ok"]


def test_static_plan_precomputes_few_states_and_fixes_many():
    pick = widgets.Dropdown(options=["a", "b", "c"], value="b")
    mode, values = W.static_plan({"x": pick, "on": widgets.Checkbox(value=True)})
    assert mode == "all" and values == {"x": ["a", "b", "c"], "on": [False, True]}
    many = widgets.Dropdown(options=[f"q{k}" for k in range(40)], value="q38")
    mode, values = W.static_plan({"query": many})
    assert mode == "some" and values["query"] == [f"q{k}" for k in range(28, 40)]  # the current one included
    sliders = {"c": widgets.FloatSlider(value=0.5, min=0, max=1, step=0.01), "w": widgets.IntSlider(value=1)}
    assert W.static_plan(sliders) == ("fixed", None)
    assert W.static_plan({"x": widgets.FloatSlider(value=0.5, min=0, max=1, step=0.25)})[0] == "all"
    assert W.static_plan({"name": widgets.Text(value="x")}) == ("fixed", None)


def draw_line(fig, slope, dashed=False):
    fig.add_subplot().plot([0, 1], [0, slope], "--" if dashed else "-")


def test_figure_explorer_precomputes_every_state_it_offers():
    box = W.figure_explorer(
        draw_line,
        figsize=(2, 1),
        slope=widgets.Dropdown(options=[("flat", 0), ("up", 1)], value=1),
        dashed=widgets.Checkbox(value=False),
    )
    page = box.static_html()
    assert attribute(page, "data-kind") == "states"
    images = json.loads(attribute(page, "data-config"))["images"]
    assert sorted(images) == ["0,0", "0,1", "1,0", "1,1"]
    assert '<option value="1" selected>up</option>' in page
    assert images["1,0"] in page  # the picture of the values shown


def test_figure_explorer_fixes_its_controls_with_a_note_otherwise(monkeypatch):
    sliders = {"slope": widgets.FloatSlider(value=0.5, min=0, max=1, step=0.01)}
    page = W.figure_explorer(draw_line, figsize=(2, 1), **sliders).static_html()
    assert attribute(page, "data-kind") == "fixed" and W.FIXED_NOTE in page and "data-config" not in page
    monkeypatch.setattr(W, "STATIC_BYTES", 100)  # over the size budget: one picture, fixed
    small = W.figure_explorer(draw_line, figsize=(2, 1), slope=widgets.Dropdown(options=[0, 1], value=0))
    assert attribute(small.static_html(), "data-kind") == "fixed"


def test_a_long_dropdown_offers_some_choices_and_says_so():
    box = W.figure_explorer(
        draw_line, figsize=(2, 1), slope=widgets.Dropdown(options=list(range(30)), value=0)
    )
    page = box.static_html()
    assert (
        attribute(page, "data-kind") == "states"
        and len(json.loads(attribute(page, "data-config"))["images"]) == 12
    )
    assert "12 of the 30 choices" in page and page.count("<option") == 12
