"""Grading checks of the chapters' coding exercises: the solutions pass, and each known wrong answer fails.

Each chapter's graded exercise lives in a code cell tagged ``exercise``, with the solution between
``# BEGIN SOLUTION`` and ``# END SOLUTION``. Here the cell is executed on its own and the function it
defines is checked by ``tools/grading_checks.py``, the checks ``make grade`` runs on students' work.

``WRONG`` lists the answers reviewers got past the earlier checks (a grid without its end point, the package's
own function imported, a hard-coded epsilon or margin, a window clipped at 0 only, a typo that reads a
notebook variable, a reference monkey-patched from the notebook): each must now fail, with the sentence named
here, both in this process and through the grader's kernel.
"""

import dataclasses
import json
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
sys.path.insert(0, str(ROOT / "tools"))
import grade  # noqa: E402
import grading_support  # noqa: E402
from grading_checks import EXERCISES  # noqa: E402

BY_NAME = {e.name: e for e in EXERCISES}  # the exercise each wrong answer below answers


def exercise_sources(notebook: str) -> list[str]:
    cells = json.loads((BOOK / notebook).read_text())["cells"]
    sources = [
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "exercise" in c["metadata"].get("tags", [])
    ]
    assert sources, f"{notebook} has no cell tagged 'exercise'"
    return sources


def exercise_namespace(notebook: str) -> dict:
    """Run the notebook's ``exercise`` cells (and nothing else) and return what they define."""
    namespace: dict = {}
    for source in exercise_sources(notebook):
        assert "# BEGIN SOLUTION" in source and "# END SOLUTION" in source
        exec(compile(source, f"{notebook}:exercise", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: f"{e.chapter}-{e.name}")
def test_solution_passes_its_grading_check(exercise):
    exercise.check(exercise_namespace(f"{exercise.chapter}.ipynb")[exercise.name])


def test_every_component_chapter_has_a_graded_exercise():
    chapters = sorted(p.stem for p in BOOK.glob("0[3-8]_*.ipynb"))  # chapters 3-8: the components
    assert len(chapters) == 6 and set(chapters) <= {e.chapter for e in EXERCISES}


def test_every_exercise_cell_defines_its_graded_function():
    for chapter in sorted({e.chapter for e in EXERCISES}):
        namespace = exercise_namespace(f"{chapter}.ipynb")
        for exercise in EXERCISES:
            if exercise.chapter == chapter:
                assert callable(namespace.get(exercise.name)), (chapter, exercise.name)


# -- the wrong answers
# ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Wrong:
    name: str  # the graded function
    label: str  # what is wrong with it
    source: str  # the student's exercise cell
    sentence: str  # a fragment of the sentence the grader must print
    kind: str = "wrong"  # "wrong" (an AssertionError of the check) or "error" (the student's code raised)
    local: bool = True  # False: only meaningful in the grader's kernel (it changes the package it runs in)


GRID_SEARCH = """
import numpy as np
from cnm_minimal import metrics

def best_constant_window(train_segments, step=0.01):
    train = np.asarray(train_segments, dtype=float)
    grid = {grid}
    best, best_score = None, -1.0
    for a in grid:
        for b in grid[grid > a]:
            score = metrics.temporal_iou(np.tile([a, b], (len(train), 1)), train).mean()
            if score > best_score:
                best, best_score = np.array([a, b]), score
    return best
"""

VOTE = """
import torch

def vote_answer(segments, nll):
    start, end = segments[..., 0], segments[..., 1]
    inter = torch.minimum(end[:, :, None], end[:, None, :]) - torch.maximum(start[:, :, None], start[:, None, :])
    union = torch.maximum(end[:, :, None], end[:, None, :]) - torch.minimum(start[:, :, None], start[:, None, :])
    iou = ((inter + 1e-10) / (union + 1e-10)).clamp(min=0.0)
    {body}
"""

RESAMPLE = """
import numpy as np

def resample(features, num_clips):
    features = np.asarray(features, dtype=float)
    t = len(features)
    bounds = {bounds}
    return np.stack([{clip} for a, b in zip(bounds[:-1], bounds[1:])])
"""
ROUNDED = "np.minimum(np.round(np.arange(num_clips + 1) / num_clips * t).astype(int), t - 1)"
SEGMENT = "features[a:b].mean(axis=0) if b > a else features[a]"

HARD = """
import numpy as np
from cnm_minimal import baselines, metrics

def prior_hard_queries(train_moments, test_moments, threshold=0.3):
    train, test = np.asarray(train_moments, dtype=float), np.asarray(test_moments, dtype=float)
    window = {window}
    iou = metrics.temporal_iou(np.repeat(window[None], len(test), 0), test)
    return {returned}
"""
BEST_ON_TRAIN = "baselines.best_constant_window(train)"

COST = "import math\n\ndef run_seconds(epochs, queries, batch, t_step, t_eval):\n    return {formula}\n"

SEEDS = (
    "import numpy as np\n\ndef seed_difference(a, b):\n    a, b = np.asarray(a, dtype=float), np.asarray(b, "
    "dtype=float)\n"
    "    n = len(a)\n    return {difference}, {half}\n"
)
DIFFERENCE, HALF = "b.mean() - a.mean()", "2 * np.sqrt(a.std() ** 2 / n + b.std() ** 2 / n)"

SPLIT = (
    "    def split(x):\n        return x.reshape(x.shape[0], x.shape[1], heads, d // heads).transpose(1, 2)\n"
)
ATTENTION = (
    "import math\nimport torch\n\ndef masked_multihead_attention(queries, keys, values, m, heads):\n"
    "    b, t, d = queries.shape\n"
    + SPLIT
    + "    scores = split(queries) @ split(keys).transpose(-2, -1) / math.sqrt({scale})"
    " + torch.log(m{eps})[:, None, None, :]\n"
    "    return (torch.softmax(scores, dim=-1) @ split(values)).transpose(1, 2).reshape(b, t, d)\n"
)
FLOOR = (
    "import math\n\ndef smoothed_loss_floor(num_classes, eps):\n"
    "    on, off = {on}, eps / num_classes\n"
    "    return {body}\n"
)
GRADIENTS = (
    "import torch\n\ndef ivc_gradients(nll_positive, nll_hard, nll_easy, beta1, beta2):\n"
    "    hard = (nll_positive - nll_hard + beta1 > 0).double() / {scale}\n"
    "    easy = (nll_positive - nll_easy + beta2 > 0).double() / {scale}\n"
    "    return {returned}\n"
)
COUNT = (
    "def count_parameters(config):\n"
    "    d = config.hidden\n"
    "    attention = 4 * d * d + 4 * d\n"
    "    layer = 2 * attention + 6 * d + 4 * d * d + 3 * d\n"
    "    return ((config.frame_dim + 1) * d + (config.word_dim + 1) * d + {tokens}\n"
    "            + (config.video_layers + config.query_layers) * layer + (d + 1) * "
    "config.vocab_size{extra})\n"
)

DESCENT = (
    "import numpy as np\n\ndef descent_toward_truth(gradient, centre, truth, far=0.1):\n"
    "    gradient, centre, truth = (np.asarray(x, dtype=float) for x in (gradient, centre, truth))\n"
    "    keep = {keep}\n"
    "    g, toward = gradient[keep], np.sign(truth - centre)[keep]\n"
    "    moving = g != 0\n"
    "    agree = (np.sign({step}) == toward) & moving\n"
    "    return float(agree.sum() / max({count}, 1))\n"
)
DESCENT_PARTS = dict(keep="np.abs(truth - centre) > far", step="-g", count="moving.sum()")

WRONG = [
    Wrong(
        "descent_toward_truth",
        "gradient-not-descent",
        DESCENT.format(**DESCENT_PARTS | {"step": "g"}),
        "moves the centre by minus the gradient",
    ),
    Wrong(
        "descent_toward_truth",
        "zeros-counted",
        DESCENT.format(**DESCENT_PARTS | {"count": "len(g)"}),
        "not in the denominator",
    ),
    Wrong(
        "descent_toward_truth",
        "near-queries-kept",
        DESCENT.format(**DESCENT_PARTS | {"keep": "np.ones(len(gradient), dtype=bool)"}),
        "more than `far`",
    ),
    Wrong(
        "seed_difference",
        "a-minus-b",
        SEEDS.format(difference="a.mean() - b.mean()", half=HALF),
        "the variant's mean minus full's",
    ),
    Wrong(
        "seed_difference",
        "sample-std",
        SEEDS.format(
            difference=DIFFERENCE, half="2 * np.sqrt(a.std(ddof=1) ** 2 / n + b.std(ddof=1) ** 2 / n)"
        ),
        "not the sample one",
    ),
    Wrong(
        "seed_difference",
        "no-division-by-n",
        SEEDS.format(difference=DIFFERENCE, half="2 * np.sqrt(a.std() ** 2 + b.std() ** 2)"),
        "divide each variance by n",
    ),
    Wrong(
        "seed_difference",
        "one-standard-error",
        SEEDS.format(difference=DIFFERENCE, half="np.sqrt(a.std() ** 2 / n + b.std() ** 2 / n)"),
        "*two* standard errors",
    ),
    Wrong(
        "seed_difference",
        "1.96",
        SEEDS.format(difference=DIFFERENCE, half="1.96 * np.sqrt(a.std() ** 2 / n + b.std() ** 2 / n)"),
        "not 1.96",
    ),
    Wrong(
        "seed_difference",
        "stds-added",
        SEEDS.format(difference=DIFFERENCE, half="2 * (a.std() + b.std()) / np.sqrt(n)"),
        "add in quadrature",
    ),
    Wrong(
        "seed_difference",
        "one-number",
        "import numpy as np\n\ndef seed_difference(a, b):\n    return float(np.mean(b) - np.mean(a))\n",
        "should return two numbers",
    ),
    Wrong(
        "run_seconds",
        "floor-division",
        COST.format(formula="epochs * ((queries // batch) * t_step + t_eval)"),
        "ceil(N / B), not floor",
    ),
    Wrong(
        "run_seconds",
        "fractional-iterations",
        COST.format(formula="epochs * (queries / batch * t_step + t_eval)"),
        "a fraction of one does not run",
    ),
    Wrong(
        "run_seconds",
        "evaluation-once",
        COST.format(formula="epochs * math.ceil(queries / batch) * t_step + t_eval"),
        "t_eval counts E times",
    ),
    Wrong(
        "run_seconds",
        "evaluation-per-iteration",
        COST.format(formula="epochs * math.ceil(queries / batch) * (t_step + t_eval)"),
        "not one per iteration",
    ),
    Wrong(
        "run_seconds",
        "one-query-per-iteration",
        COST.format(formula="epochs * (queries * t_step + t_eval)"),
        "not N",
    ),
    Wrong(
        "run_seconds",
        "hours-not-seconds",
        COST.format(formula="epochs * (math.ceil(queries / batch) * t_step + t_eval) / 3600"),
        "expected 21750 s by Eq. 13.1",
    ),
    Wrong(
        "prior_hard_queries",
        "window-chosen-on-test",
        HARD.format(window="baselines.best_constant_window(test)", returned="iou < threshold"),
        "on the *training* moments",
    ),
    Wrong(
        "prior_hard_queries",
        "keeps-the-easy-ones",
        HARD.format(window=BEST_ON_TRAIN, returned="iou >= threshold"),
        "where the window *fails*",
    ),
    Wrong(
        "prior_hard_queries",
        "ignores-the-threshold",
        HARD.format(window=BEST_ON_TRAIN, returned="iou < 0.3"),
        "use the threshold argument",
    ),
    Wrong(
        "prior_hard_queries",
        "mean-window",
        HARD.format(window="baselines.mean_training_window(train)", returned="iou < threshold"),
        "not the mean training window",
    ),
    Wrong(
        "prior_hard_queries",
        "returns-indices",
        HARD.format(window=BEST_ON_TRAIN, returned="np.nonzero(iou < threshold)[0]"),
        "a mask, not the indices",
    ),
    Wrong(
        "prior_hard_queries",
        "uses-the-package",
        "from cnm_minimal import baselines, bias\n\ndef prior_hard_queries(train_moments, test_moments, "
        "threshold=0.3):\n"
        "    return bias.prior_hard(test_moments, baselines.best_constant_window(train_moments), "
        "threshold)\n",
        "calls the package's own `cnm_minimal.bias.prior_hard`",
    ),
    Wrong(
        "resample",
        "last-row-used",
        RESAMPLE.format(
            bounds="np.round(np.arange(num_clips + 1) / num_clips * t).astype(int)", clip=SEGMENT
        ),
        "the last row is never averaged in",
    ),
    Wrong(
        "resample",
        "floored-boundaries",
        RESAMPLE.format(
            bounds="np.minimum(np.floor(np.arange(num_clips + 1) / num_clips * t).astype(int), t - 1)",
            clip=SEGMENT,
        ),
        "rounded to the nearest row (numpy's round), not floored",
    ),
    Wrong(
        "resample",
        "round-half-up",
        RESAMPLE.format(
            bounds="np.minimum(np.floor(np.arange(num_clips + 1) / num_clips * t + 0.5).astype(int), t - 1)",
            clip=SEGMENT,
        ),
        "round(2.5) is 2, not 3",
    ),
    Wrong(
        "resample",
        "zeros-for-empty-clips",
        RESAMPLE.format(
            bounds=ROUNDED, clip="features[a:b].mean(axis=0) if b > a else np.zeros(features.shape[1])"
        ),
        "repeats row b_j",
    ),
    Wrong(
        "resample",
        "inclusive-end",
        RESAMPLE.format(bounds=ROUNDED, clip="features[a:max(a, b) + 1].mean(axis=0)"),
        "the row b_{j+1} belongs to the next clip",
    ),
    Wrong(
        "resample",
        "interpolates",
        "import numpy as np\n\ndef resample(features, num_clips):\n"
        "    features = np.asarray(features, dtype=float)\n"
        "    x = np.linspace(0, len(features) - 1, num_clips)\n"
        "    return np.stack([np.interp(x, np.arange(len(features)), col) for col in features.T], axis=1)\n",
        "the values differ from Eq. 2.1's segment means",
    ),
    Wrong(
        "resample",
        "uses-the-package",
        "from cnm_minimal.data.features import resample_clips as resample\n",
        "calls the package's own `cnm_minimal.data.features.resample_clips`",
    ),
    Wrong(
        "best_constant_window",
        "grid-without-end-point",
        GRID_SEARCH.format(grid="np.arange(0.0, 1.0, step)"),
        "includes its end point 1",
    ),
    Wrong(
        "best_constant_window",
        "grid-without-start-point",
        GRID_SEARCH.format(grid="np.round(np.arange(step, 1.0 + step / 2, step), 10)"),
        "starts at 0",
    ),
    Wrong(
        "best_constant_window",
        "ignores-step",
        GRID_SEARCH.format(grid="np.round(np.arange(0.0, 1.005, 0.01), 10)"),
        "which is not on the grid 0, 0.05, ..., 1: use the step argument",
    ),
    Wrong(
        "best_constant_window",
        "imports-the-package",
        "from cnm_minimal.baselines import best_constant_window\n",
        "calls the package's own `cnm_minimal.baselines.best_constant_window`",
    ),
    Wrong(
        "best_constant_window",
        "wraps-the-package-under-another-name",
        "import cnm_minimal.baselines as helpers\n\n"
        "def best_constant_window(train_segments, step=0.01):\n"
        "    return getattr(helpers, 'best_' + 'constant_window')(train_segments, step)\n",
        "calls the package's own `cnm_minimal.baselines.best_constant_window`",
    ),
    Wrong(
        "clip_width_predictions",
        "clips-only-at-0",
        "import numpy as np\n\ndef clip_width_predictions(records, width):\n"
        "    c = np.array([r['centre'] for r in records])\n"
        "    return np.stack([np.maximum(c - width / 2, 0.0), c + width / 2], axis=1)\n",
        "clip the end at 1 with min(c + w/2, 1)",
    ),
    Wrong(
        "clip_width_predictions",
        "clips-only-at-1",
        "import numpy as np\n\ndef clip_width_predictions(records, width):\n"
        "    c = np.array([r['centre'] for r in records])\n"
        "    return np.stack([c - width / 2, np.minimum(c + width / 2, 1.0)], axis=1)\n",
        "clip the start at 0 with max(c - w/2, 0)",
    ),
    Wrong(
        "clip_width_predictions",
        "centre-from-the-clipped-window",
        "import numpy as np\n\ndef clip_width_predictions(records, width):\n"
        "    c = np.array([sum(r['predicted']) / 2 for r in records])\n"
        "    return np.stack([np.maximum(c - width / 2, 0.0), np.minimum(c + width / 2, 1.0)], axis=1)\n",
        'keep each record\'s "centre"',
    ),
    Wrong(
        "clip_width_predictions",
        "uses-the-package",
        "import numpy as np\nfrom cnm_minimal.baselines import segments_from_centre_width\n\n"
        "def clip_width_predictions(records, width):\n"
        "    return segments_from_centre_width([r['centre'] for r in records], np.full(len(records), "
        "width))\n",
        "calls the package's own `cnm_minimal.baselines.segments_from_centre_width`",
    ),
    Wrong(
        "vote_answer",
        "lowest-loss-only",
        VOTE.format(body="return nll.argmin(dim=-1)"),
        "returned the lowest-loss proposal",
    ),
    Wrong(
        "vote_answer",
        "unweighted-vote",
        VOTE.format(body="return iou.sum(dim=-1).argmax(dim=-1)"),
        "every voter counts the same in your vote",
    ),
    Wrong(
        "vote_answer",
        "weights-by-the-worst",
        VOTE.format(
            body="c = iou[torch.arange(len(nll)), nll.argmax(-1)]\n"
            "    return (iou * c[:, None, :]).sum(dim=-1).argmax(dim=-1)"
        ),
        "the IoU with the proposal of the *lowest* loss",
    ),
    Wrong(
        "vote_answer",
        "sums-over-the-scored-axis",
        VOTE.format(
            body="c = iou[torch.arange(len(nll)), nll.argmin(-1)]\n"
            "    return (iou * c[:, None, :]).sum(dim=1).argmax(dim=-1)"
        ),
        "your sum runs over the proposals being scored (i) instead of over the voters (j)",
    ),
    Wrong(
        "vote_answer",
        "softmax-weights",
        VOTE.format(
            body="c = torch.softmax(-nll, dim=-1)\n"
            "    return (iou * c[:, None, :]).sum(dim=-1).argmax(dim=-1)"
        ),
        "not a softmax (or other function) of the losses",
    ),
    Wrong(
        "vote_answer",
        "iou-not-clamped",
        VOTE.replace(".clamp(min=0.0)", "").format(
            body="c = iou[torch.arange(len(nll)), nll.argmin(-1)]\n"
            "    return (iou * c[:, None, :]).sum(dim=-1).argmax(dim=-1)"
        ),
        "clamp the IoU at 0",
    ),
    Wrong(
        "vote_answer",
        "last-index-on-ties",
        VOTE.format(
            body="c = iou[torch.arange(len(nll)), nll.argmin(-1)]\n"
            "    score = (iou * c[:, None, :]).sum(dim=-1)\n"
            "    return score.shape[-1] - 1 - score.flip(-1).argmax(dim=-1)"
        ),
        "return the lowest of their indices",
    ),
    Wrong(
        "vote_answer",
        "lowest-vote",
        VOTE.format(
            body="c = iou[torch.arange(len(nll)), nll.argmin(-1)]\n"
            "    return (iou * c[:, None, :]).sum(dim=-1).argmin(dim=-1)"
        ),
        "Eq. 12.8 takes the highest (argmax)",
    ),
    Wrong(
        "vote_answer",
        "imports-the-package",
        "from cnm_minimal.proposal_selection import select_by_vote as vote_answer\n",
        "calls the package's own `cnm_minimal.proposal_selection.select_by_vote`",
    ),
    Wrong(
        "masked_multihead_attention",
        "scaled-by-sqrt-d",
        ATTENTION.format(scale="d", eps=" + 1e-10"),
        "scale the scores by sqrt(d / heads)",
    ),
    Wrong(
        "masked_multihead_attention",
        "no-epsilon",
        ATTENTION.format(scale="d // heads", eps=""),
        "add 1e-10 to m inside the log",
    ),
    Wrong(
        "masked_multihead_attention",
        "one-head",
        ATTENTION.format(scale="d", eps=" + 1e-10").replace(
            "    b, t, d = queries.shape\n", "    b, t, d = queries.shape\n    heads = 1\n"
        ),
        "equals one head over all d dimensions",
    ),
    Wrong(
        "masked_multihead_attention",
        "uses-the-package",
        ATTENTION.format(scale="d // heads", eps=" + 1e-10")
        .replace(
            "    return (torch.softmax(scores, dim=-1)",
            "    from cnm_minimal.attention import mask_conditioned_softmax\n"
            "    w = mask_conditioned_softmax(scores - torch.log(m + 1e-10)[:, None, None, :], m)\n"
            "    return (w",
        )
        .replace("\ndef ", "\n\ndef "),
        "calls the package's own `cnm_minimal.attention.mask_conditioned_softmax`",
    ),
    Wrong(
        "masked_multihead_attention",
        "monkey-patches-the-reference",
        "import torch\nfrom cnm_minimal import attention\n\n"
        "def masked_multihead_attention(queries, keys, values, m, heads):\n"
        "    return torch.softmax(queries @ keys.transpose(-2, -1), dim=-1) @ values     # ignores the "
        "mask\n\n"
        "attention.mask_conditioned_softmax = lambda scores, m: torch.softmax(scores, dim=-1)\n",
        "masked_multihead_attention(queries [2, 3, 8], keys and values [2, 5, 8], m, heads=2): the values "
        "differ",
        local=False,
    ),
    Wrong(
        "masked_multihead_attention",
        "typo-reads-a-notebook-variable",
        ATTENTION.format(scale="d // heads", eps=" + 1e-10")
        .replace("torch.log(m + 1e-10)", "torch.log(mask + 1e-10)")
        .replace(
            "import torch\n\n",
            "import torch\nmask = torch.rand(32, 50)                  # a variable of an earlier cell\n\n",
        ),
        "reads the notebook's variable `mask`, a Tensor of shape (32, 50)",
        kind="error",
    ),
    Wrong(
        "smoothed_loss_floor",
        "zero-log-zero",
        FLOOR.format(
            on="1 - eps + eps / num_classes",
            body="-on * math.log(on) - (num_classes - 1) * off * math.log(off) if off else -math.log(0 * on "
            "+ 1) * float('nan')",
        ),
        "0 log 0 counts as 0",
    ),
    Wrong(
        "smoothed_loss_floor",
        "target-without-its-share",
        FLOOR.format(
            on="1 - eps",
            body="-(on * math.log(on) if on else 0.0) - ((num_classes - 1) * off * math.log(off) if off else "
            "0.0)",
        ),
        "the target class gets its share eps / V",
    ),
    Wrong(
        "smoothed_loss_floor",
        "uniform-guess",
        FLOOR.format(on="1", body="math.log(num_classes)"),
        "the loss of a uniform guess",
    ),
    Wrong(
        "ivc_gradients",
        "no-mean",
        GRADIENTS.format(scale="1", returned="hard + easy, -hard, -easy"),
        "times too large",
    ),
    Wrong(
        "ivc_gradients",
        "signs",
        GRADIENTS.format(scale="len(nll_positive)", returned="hard + easy, hard, easy"),
        "check the signs",
    ),
    Wrong(
        "ivc_gradients",
        "one-hinge-for-the-positive",
        GRADIENTS.format(scale="len(nll_positive)", returned="hard, -hard, -easy"),
        "L^p appears in both hinges",
    ),
    Wrong(
        "ivc_gradients",
        "autograd",
        "import torch\nfrom cnm_minimal.losses import ivc_loss\n\n"
        "def ivc_gradients(nll_positive, nll_hard, nll_easy, beta1, beta2):\n"
        "    leaves = [x.clone().requires_grad_() for x in (nll_positive, nll_hard, nll_easy)]\n"
        "    return torch.autograd.grad(ivc_loss(*leaves, beta1, beta2), leaves)\n",
        "derive the gradients by hand",
    ),
    Wrong(
        "count_parameters",
        "builds-the-model",
        "from cnm_minimal.model import CNM\n\ndef count_parameters(config):\n"
        "    return sum(p.numel() for p in CNM(config).parameters())\n",
        "without building the model",
    ),
    Wrong(
        "count_parameters",
        "no-tokens",
        COUNT.format(tokens="0", extra=" + 2 * (d + 1)"),
        "is exactly the start and mask tokens (2 word_dim); did you leave it out?",
    ),
    Wrong(
        "count_parameters",
        "no-gaussian-head",
        COUNT.format(tokens="2 * config.word_dim", extra=""),
        "is exactly the Gaussian head",
    ),
    Wrong(
        "count_parameters",
        "counts-the-position-table",
        COUNT.format(tokens="2 * config.word_dim", extra=" + 2 * (d + 1) + (config.max_words + 1) * d"),
        "are exactly the position table",
    ),
]


def graded_outcome(wrong, exercises) -> dict:
    """Run the wrong answer's source and grade its function with the check of ``exercises[wrong.name]``."""
    namespace: dict = {}
    exec(compile(wrong.source, f"wrong-{wrong.label}", "exec"), namespace)
    outcome = grading_support.run_check(
        exercises[wrong.name].check, grading_support.LocalSubmission(namespace[wrong.name], wrong.name)
    )
    assert outcome["kind"] == wrong.kind, outcome
    assert wrong.sentence in outcome["message"], outcome["message"]
    return outcome


@pytest.mark.parametrize("wrong", [w for w in WRONG if w.local], ids=lambda w: f"{w.name}-{w.label}")
def test_wrong_answer_fails_with_its_sentence(wrong):
    assert "Traceback" not in graded_outcome(wrong, BY_NAME)["message"]


def test_a_monkey_patched_package_does_not_move_the_references_in_process(monkeypatch):
    """Even in-process the checks hold their references from import time, not the package's current
    attributes."""
    from cnm_minimal import attention

    wrong = next(w for w in WRONG if w.label == "monkey-patches-the-reference")
    monkeypatch.setattr(
        attention, "mask_conditioned_softmax", attention.mask_conditioned_softmax
    )  # restored after
    namespace: dict = {}
    exec(compile(wrong.source, "wrong", "exec"), namespace)
    outcome = grading_support.run_check(
        BY_NAME[wrong.name].check, grading_support.LocalSubmission(namespace[wrong.name])
    )
    assert outcome["kind"] == "wrong" and wrong.sentence in outcome["message"], outcome


def _notebook(path: Path, sources: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(notebook, path)
    return path


def _grade_in_one_kernel(tmp_path, sources, exercises):
    path = _notebook(tmp_path / "all.ipynb", sources)
    results, errors, mode = grade.grade(
        path, ROOT / "tools" / "grading_checks.py", cells="all", exercises=exercises
    )
    assert mode == "all" and not errors, errors
    return results


def _variants(wrongs):
    sources, exercises = [], []
    for k, wrong in enumerate(wrongs):
        variant = f"{wrong.name}__wrong{k}"
        sources.append(f"{wrong.source}\n{variant} = {wrong.name}\n")
        exercises.append(dataclasses.replace(BY_NAME[wrong.name], name=variant))
    return sources, exercises


def test_the_grader_kernel_passes_the_solutions_and_fails_every_wrong_answer(tmp_path):
    """One kernel: every chapter's solution cell, every wrong answer under a name of its own, the solutions
    again."""
    solutions = [s for e in EXERCISES for s in exercise_sources(f"{e.chapter}.ipynb")]
    wrongs = [w for w in WRONG if w.local]
    sources, variants = _variants(wrongs)
    results = _grade_in_one_kernel(tmp_path, solutions + sources + solutions, list(EXERCISES) + variants)
    for r in results[: len(EXERCISES)]:
        assert r["kind"] == "ok" and r["score"] == r["points"], r
    for wrong, r in zip(wrongs, results[len(EXERCISES) :]):
        assert r["kind"] == wrong.kind and r["score"] == 0, (wrong.label, r)
        assert wrong.sentence in r["message"], (wrong.label, r["message"])
        assert "Traceback" not in r["message"]


def test_monkey_patching_the_package_in_the_kernel_does_not_reach_the_references(tmp_path):
    """The answer patches ``attention.mask_conditioned_softmax`` in its kernel to agree with its wrong
    function; the references are the grader's, so it fails, and the solution graded in the same kernel still
    passes."""
    wrongs = [w for w in WRONG if not w.local]
    sources, variants = _variants(wrongs)
    exercise = next(
        e for e in EXERCISES if e.chapter == "05_attention"
    )  # the chapter's graded exercise, as it stands
    results = _grade_in_one_kernel(
        tmp_path, sources + exercise_sources(f"{exercise.chapter}.ipynb"), variants + [exercise]
    )
    for wrong, r in zip(wrongs, results):
        assert r["kind"] == wrong.kind and wrong.sentence in r["message"], (wrong.label, r)
    assert results[-1]["kind"] == "ok", results[-1]


def test_the_grader_reports_a_missing_function_and_a_non_function(tmp_path):
    name = {e.chapter: e.name for e in EXERCISES}
    path = _notebook(tmp_path / "05_attention.ipynb", [f"{name['05_attention']} = 3\n"])
    results, _, _ = grade.grade(path, ROOT / "tools" / "grading_checks.py")
    assert (
        results[0]["kind"] == "wrong" and "is not a function but a value of type int" in results[0]["message"]
    ), results
    path = _notebook(tmp_path / "07_ivc_loss.ipynb", ["x = 1\n"])
    results, _, _ = grade.grade(path, ROOT / "tools" / "grading_checks.py")
    assert (
        results[0]["kind"] == "missing"
        and f"does not define `{name['07_ivc_loss']}`" in results[0]["message"]
    ), results


def test_tracing_refuses_a_function_that_turns_the_profiler_off():
    import sys as _sys

    def sneaky(queries, keys, values, m, heads):
        _sys.setprofile(None)
        from cnm_minimal.attention import MultiheadAttention

        return MultiheadAttention(queries.shape[-1], heads)(queries, keys, key_weights=m)[0]

    outcome = grading_support.run_check(
        BY_NAME["masked_multihead_attention"].check,
        grading_support.LocalSubmission(sneaky, "masked_multihead_attention"),
    )
    assert outcome["kind"] == "wrong" and "could not watch" in outcome["message"], outcome


def test_encoding_round_trips_what_checks_exchange():
    import numpy as np
    import torch

    from cnm_minimal.model import CNMConfig

    value = (
        torch.tensor([[1.5, float("nan")]], dtype=torch.float32),
        np.arange(3, dtype=np.int64),
        np.float64(0.25),
        [{"centre": 0.3, "vid": "a"}],
        None,
        CNMConfig(hidden=8),
    )
    back = grading_support.loads(grading_support.dumps(value))
    assert back[0].dtype == torch.float32 and back[0].shape == (1, 2) and torch.isnan(back[0][0, 1])
    assert back[1].dtype == np.int64 and back[1].tolist() == [0, 1, 2] and back[2] == 0.25
    assert back[3] == [{"centre": 0.3, "vid": "a"}] and back[4] is None and back[5] == CNMConfig(hidden=8)
    assert isinstance(grading_support.loads(grading_support.dumps(object())), grading_support.Unsupported)


def test_the_references_agree_with_the_package():
    import math

    import grading_checks
    import torch

    from cnm_minimal.attention import MultiheadAttention
    from cnm_minimal.reconstruction import label_smoothed_nll

    torch.manual_seed(0)
    mha = MultiheadAttention(8, 2).double()
    mha.fast = False
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.eye(8).repeat(3, 1))
        mha.in_proj_bias.zero_()
        mha.out_proj.weight.copy_(torch.eye(8))
        mha.out_proj.bias.zero_()
    x, memory = torch.randn(2, 3, 8, dtype=torch.float64), torch.randn(2, 5, 8, dtype=torch.float64)
    m = torch.rand(2, 5, dtype=torch.float64)
    m[1] = 0
    ours, _ = mha(x, memory, key_weights=m)
    assert torch.allclose(ours, grading_checks._attention_reference(x, memory, memory, m, 2), atol=1e-12)
    for classes, eps in ((2, 0.1), (93, 0.1), (9, 1.0), (5, 0.3)):
        q = torch.full((classes,), eps / classes, dtype=torch.float64)
        q[0] += 1 - eps
        floor = grading_checks._smoothed_floor(classes, eps)
        at_q = float(
            label_smoothed_nll(torch.log(q)[None, None], torch.tensor([[0]]), torch.ones(1, 1), eps=eps)[0]
        )
        assert math.isclose(at_q, floor, rel_tol=1e-9)
        for seed in range(5):  # and no other distribution goes lower
            logits = torch.log(q) + 0.3 * torch.randn(
                classes, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
            )
            assert (
                float(
                    label_smoothed_nll(logits[None, None], torch.tensor([[0]]), torch.ones(1, 1), eps=eps)[0]
                )
                >= floor
            )


def test_a_function_that_hangs_or_kills_its_kernel_gets_a_sentence(tmp_path):
    name = {e.chapter: e.name for e in EXERCISES}
    hangs = _notebook(
        tmp_path / "07_ivc_loss.ipynb",
        [f"import time\n\ndef {name['07_ivc_loss']}(*args):\n    time.sleep(600)\n"],
    )
    results, _, _ = grade.grade(
        hangs, ROOT / "tools" / "grading_checks.py", timeout=8
    )  # room for a loaded machine
    assert results[0]["kind"] == "error" and "did not return within 8 s" in results[0]["message"], results
    dies = _notebook(
        tmp_path / "05_attention.ipynb",
        [f"import os\n\ndef {name['05_attention']}(*args):\n    os._exit(1)\n"],
    )
    results, _, _ = grade.grade(dies, ROOT / "tools" / "grading_checks.py")
    assert results[0]["kind"] == "error" and "the kernel died while it ran" in results[0]["message"], results


VOTE_RIGHT = [
    VOTE.format(
        body="c = iou[torch.arange(len(nll)), nll.argmin(-1)]\n"
        "    return torch.einsum('bij,bj->bi', iou, c).argmax(dim=-1)"
    ),
    """
import torch

def vote_answer(segments, nll):
    answers = []
    for boxes, losses in zip(segments.tolist(), nll.tolist()):
        def iou(a, b):
            inter = min(a[1], b[1]) - max(a[0], b[0])
            union = max(a[1], b[1]) - min(a[0], b[0])
            return max((inter + 1e-10) / (union + 1e-10), 0.0)
        best = boxes[min(range(len(losses)), key=losses.__getitem__)]
        scores = [sum(iou(p, q) * iou(q, best) for q in boxes) for p in boxes]
        answers.append(max(range(len(scores)), key=lambda k: (scores[k], -k)))     # ties: the lowest index
    return torch.tensor(answers)
""",
]


RESAMPLE_RIGHT = [
    RESAMPLE.format(bounds=ROUNDED, clip=SEGMENT),
    """
import numpy as np

def resample(features, num_clips):
    x = np.asarray(features, dtype=np.float64)
    t = x.shape[0]
    b = np.minimum(np.round(np.arange(num_clips + 1) * t / num_clips), t - 1).astype(int)
    sums = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    counts = (b[1:] - b[:-1])[:, None]
    return np.where(counts > 0, (sums[b[1:]] - sums[b[:-1]]) / np.maximum(counts, 1), x[b[:-1]])
""",
]


HARD_RIGHT = [
    HARD.format(window=BEST_ON_TRAIN, returned="iou < threshold"),
    """
import numpy as np
from cnm_minimal import baselines

def prior_hard_queries(train_moments, test_moments, threshold=0.3):
    a, b = baselines.best_constant_window(train_moments)
    mask = []
    for s, e in np.asarray(test_moments, dtype=float).tolist():
        inter = min(b, e) - max(a, s)
        union = max(b, e) - min(a, s)
        mask.append(max((inter + 1e-10) / (union + 1e-10), 0.0) < threshold)
    return np.array(mask)
""",
]


COST_RIGHT = [
    COST.format(formula="epochs * (math.ceil(queries / batch) * t_step + t_eval)"),
    "def run_seconds(epochs, queries, batch, t_step, t_eval):\n"
    "    iterations = -(-queries // batch)                 # ceil without math\n"
    "    return sum(iterations * t_step + t_eval for _ in range(epochs))\n",
]


SEEDS_RIGHT = [
    SEEDS.format(difference=DIFFERENCE, half=HALF),
    "import statistics\n\ndef seed_difference(a, b):\n"
    "    se = (statistics.pvariance(a) / len(a) + statistics.pvariance(b) / len(b)) ** 0.5\n"
    "    return statistics.fmean(b) - statistics.fmean(a), 2 * se\n",
]


RIGHT = [
    ("descent_toward_truth", "numpy", DESCENT.format(**DESCENT_PARTS)),
    (
        "descent_toward_truth",
        "loop",
        "def descent_toward_truth(gradient, centre, truth, far=0.1):\n"
        "    agree = moving = 0\n"
        "    for g, c, t in zip(gradient, centre, truth):\n"
        "        if abs(t - c) > far and g != 0:\n"
        "            moving += 1\n"
        "            agree += (g < 0) == (t > c)\n"
        "    return agree / moving if moving else 0.0\n",
    ),
    ("vote_answer", "einsum", VOTE_RIGHT[0]),
    ("vote_answer", "python-loops", VOTE_RIGHT[1]),
    ("resample", "loop", RESAMPLE_RIGHT[0]),
    ("resample", "cumulative-sums", RESAMPLE_RIGHT[1]),
    ("prior_hard_queries", "vectorised", HARD_RIGHT[0]),
    ("prior_hard_queries", "loop", HARD_RIGHT[1]),
    ("run_seconds", "math-ceil", COST_RIGHT[0]),
    ("run_seconds", "integer-ceil", COST_RIGHT[1]),
    ("seed_difference", "numpy", SEEDS_RIGHT[0]),
    ("seed_difference", "statistics", SEEDS_RIGHT[1]),
]


@pytest.mark.parametrize("name, label, source", RIGHT, ids=[f"{n}-{label}" for n, label, _ in RIGHT])
def test_correct_variants_pass(name, label, source):
    """Answers written another way than the solution, each correct, pass their check."""
    namespace: dict = {}
    exec(compile(source, f"right-{name}-{label}", "exec"), namespace)
    outcome = grading_support.run_check(
        BY_NAME[name].check, grading_support.LocalSubmission(namespace[name], name)
    )
    assert outcome["kind"] == "ok", outcome
