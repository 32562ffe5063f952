"""Re-worded graded exercises for chapters 5 to 8, and the tag that keeps solutions off the public pages.

The graded answers of chapters 5 to 8 appear almost verbatim earlier in their chapters:

* chapter 5: the cell after ``show_source(attention.attention_bias, attention.mask_conditioned_softmax)`` computes
  ``as_bias = torch.softmax(scores + torch.log(m + 1e-10)[:, None, None, :], dim=-1)``, the answer of
  ``masked_attention_weights`` character for character;
* chapter 6: ``show_source(rc.label_smoothed_nll)`` prints ``per_slot = (1 - eps) * nll + eps / logits.shape[-1] * smooth``,
  the answer of ``smoothed_token_loss`` with ``nll`` and ``smooth`` spelt out;
* chapter 7: the first code cell after ``show_source(losses.reconstruction_loss, losses.ivc_loss)`` prints
  ``torch.clamp(p - h + 0.1, min=0)`` and ``torch.clamp(p - e + 0.15, min=0)``, the two hinges of ``ivc_terms``;
* chapter 8: the timing cell of section 8.3 runs ``[model.reconstruct(slots, sentence, padding, w) for w in
  (samples["positive"], None, samples["easy"])]``, the answer of ``three_separate_passes``.

Each entry of ``REWORDED`` is a replacement that asks for more than re-typing: the new text of item 2 of the
chapter's "## Exercises" list, and the new source of its ``exercise`` cell (checked by the matching function of
``REWORDED_EXERCISES`` in ``tools/grading_checks.py``; ``tests/test_exercises.py`` runs each source against its
check, and wrong answers against it). ``PUBLIC_TAG`` is the tag every ``exercise`` cell needs so that the built
book leaves the solution out of its pages (the student versions and the answer key keep it).

``python tools/reworded_exercises.py IN.ipynb OUT.ipynb`` writes a copy of a chapter with these changes (the item,
the cell, the tag); the copy must then be executed (``make notebooks``) like any changed chapter. It never writes
over its input.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

PUBLIC_TAG = "remove-cell"
CELL_TAGS = ["nbval-check-output", "exercise", PUBLIC_TAG]


@dataclass(frozen=True)
class Reworded:
    chapter: str
    number: int             # the item of "## Exercises" it replaces
    name: str               # the graded function
    old_name: str           # the function of the cell it replaces
    item: str               # the new markdown item, from "2. **" to its last line
    source: str             # the new exercise cell
    others: tuple = ()      # (first line of another cell, its new source): cells that used the old function


REWORDED = [
    Reworded("05_attention", 2, "masked_multihead_attention", "masked_attention_weights", item="""\
2. **Mask-conditioned multi-head attention (graded, coding).** Write
   `masked_multihead_attention(queries, keys, values, m, heads)` for queries `[B, T, d]`, keys and values `[B, S, d]`,
   a mask `[B, S]` and a number of heads dividing $d$: split $d$ into heads, compute each head's scores
   $q k^\\top / \\sqrt{d / H}$, condition them on the mask in the bias form, weight the values and merge the heads
   back into `[B, T, d]` (no projections: the inputs are already $Q$, $K$ and $V$). Use only `torch`, not the
   package's attention. What does your function return when $m = 0$ on every key?""", source='''\
import math

import torch


def masked_multihead_attention(queries, keys, values, m, heads):
    # BEGIN SOLUTION
    # HINT: [B, T, d] -> [B, H, T, d / H] for each input; scores q k^T / sqrt(d / H) plus log(m + 1e-10) over the keys; softmax; weight the values; merge the heads back
    batch, length, dim = queries.shape
    size = dim // heads

    def split(x):
        return x.reshape(x.shape[0], x.shape[1], heads, size).transpose(1, 2)

    q, k, v = split(queries), split(keys), split(values)
    scores = q @ k.transpose(-2, -1) / math.sqrt(size) + torch.log(m + 1e-10)[:, None, None, :]
    out = torch.softmax(scores, dim=-1) @ v
    return out.transpose(1, 2).reshape(batch, length, dim)
    # END SOLUTION


q, kv = torch.randn(1, 2, 4), torch.randn(1, 3, 4)
out = masked_multihead_attention(q, kv, kv, torch.tensor([[1.0, 0.0, 0.0]]), heads=2)
print("a mask on key 0 alone returns its value for every query:", torch.allclose(out, kv[:, :1].expand(1, 2, 4), atol=1e-6))
'''),
    Reworded("06_masked_reconstruction", 2, "smoothed_loss_floor", "smoothed_token_loss", item="""\
2. **The lowest loss (graded, coding).** With label smoothing even a perfect reconstructor cannot reach
   $\\ell_t = 0$. Write `smoothed_loss_floor(num_classes, eps)` that returns, as a float, the smallest value
   $\\ell_t$ of Eq. 6.2 can take over all distributions $p$ on $V$ = `num_classes` classes, for $0 \\le \\varepsilon \\le 1$.
   (Write $\\ell_t$ as a cross-entropy between $p$ and a smoothed target.) How far above this floor is the
   $\\mathcal{L}_{rec}$ that chapter 9's run ends with ($V = 93$ on the sample)?""", source='''\
import math


def smoothed_loss_floor(num_classes, eps):
    # BEGIN SOLUTION
    # HINT: l_t = -sum_c q_c log p_c with q = 1 - eps + eps / V on the target and eps / V elsewhere; it is smallest at p = q, where it is the entropy of q (0 log 0 counts as 0)
    def plogp(x):
        return -x * math.log(x) if x > 0 else 0.0

    return plogp(1 - eps + eps / num_classes) + (num_classes - 1) * plogp(eps / num_classes)
    # END SOLUTION


print(round(smoothed_loss_floor(93, 0.1), 4), round(smoothed_loss_floor(1112, 0.1), 4), smoothed_loss_floor(40, 0.0))
'''),
    Reworded("07_ivc_loss", 2, "ivc_gradients", "ivc_terms", item="""\
2. **Who pushes what (graded, coding).** Write `ivc_gradients(nll_positive, nll_hard, nll_easy, beta1, beta2)` that
   returns the gradients of $\\mathcal{L}_{IVC}$ (Eq. 7.1, averaged over the $B$ sentences) with respect to each
   sentence's $L^p$, $L^h$ and $L^e$, as a tuple of three `[B]` tensors, from the formula and without autograd (the
   checks never put a hinge exactly on its kink). For which sentences is the gradient zero, and what does that
   mean for the mask of those sentences?""", source='''\
import torch


def ivc_gradients(nll_positive, nll_hard, nll_easy, beta1, beta2):
    # BEGIN SOLUTION
    # HINT: a hinge max(x, 0) passes a gradient of 1 where x > 0 and 0 where x < 0; the batch mean divides by B; L^p is in both hinges, L^h and L^e enter with a minus sign
    share = torch.full_like(nll_positive, 1.0 / nll_positive.shape[0])
    zero = torch.zeros_like(share)
    hard = torch.where(nll_positive - nll_hard + beta1 > 0, share, zero)
    easy = torch.where(nll_positive - nll_easy + beta2 > 0, share, zero)
    return hard + easy, torch.where(hard > 0, -share, zero), torch.where(easy > 0, -share, zero)
    # END SOLUTION


print(ivc_gradients(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 1.0]), torch.tensor([3.0, 2.0]), 0.1, 0.15))
'''),
    Reworded("08_assembly", 2, "count_parameters", "three_separate_passes", item="""\
2. **Count them all (graded, coding).** Write `count_parameters(config)` that returns the number of parameters of
   `CNM(config)` for any `CNMConfig`, from the sizes alone: without building the model or any of its modules.
   Which part holds most of the 5,371,058 parameters of the Charades-STA configuration, and which fields of the
   configuration does the count not depend on?""", source='''\
from cnm_minimal.model import CNMConfig


def count_parameters(config):
    # BEGIN SOLUTION
    # HINT: go through CNM.__init__: two input projections, the start and mask tokens, the layers of both decoders (two attentions with packed projections, three LayerNorms, a feed-forward network d -> 2d -> d), the word head and the Gaussian head; the position table is a buffer, not a parameter
    d = config.hidden
    attention = 4 * d * d + 4 * d                          # in_proj [3d, d] + its bias, out_proj [d, d] + its bias
    layer = 2 * attention + 3 * 2 * d + (2 * d * d + 2 * d) + (2 * d * d + d)
    return ((config.frame_dim + 1) * d + (config.word_dim + 1) * d + 2 * config.word_dim
            + (config.video_layers + config.query_layers) * layer
            + (d + 1) * config.vocab_size + 2 * (d + 1))
    # END SOLUTION


print(f"{count_parameters(CNMConfig()):,} parameters in the Charades-STA configuration")
''', others=(
        ("The three reconstructions run as one batch of $3B$ sentences", """\
The three reconstructions run as one batch of $3B$ sentences: the slots and words repeated three times, the masks
stacked as $[m;\\ \\mathbf{1};\\ 1 - m]$. In evaluation mode (no dropout) this equals three separate passes; the timing
cell compares the two on your machine."""),
        ("with torch.no_grad():\n    separate = three_separate_passes(", """\
from cnm_minimal.model import CNM

for config in (CNMConfig(), CNMConfig(frame_dim=512, vocab_size=8001, alpha=5.0, max_width=1.0)):
    print(f"{count_parameters(config):,} counted, {sum(p.numel() for p in CNM(config).parameters()):,} in the model")"""),
    )),
]


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def apply(notebook: dict, chapter: str, public_tag: bool = True) -> dict:
    """A copy of ``notebook`` with the re-worded exercise of ``chapter`` (if any) and the public tag on its
    ``exercise`` cells."""
    notebook = json.loads(json.dumps(notebook))
    change = next((r for r in REWORDED if r.chapter == chapter), None)
    for cell in notebook["cells"]:
        text = _text(cell)
        for first, new in (change.others if change else ()):
            if text.startswith(first):
                cell["source"] = new.splitlines(keepends=True)
                if cell["cell_type"] == "code":
                    cell["outputs"], cell["execution_count"] = [], None
        if change and cell["cell_type"] == "markdown" and "## Exercises" in text:
            head, section = text.split("## Exercises", 1)
            pattern = re.compile(rf"^{change.number}\. \*\*.*?(?=^{change.number + 1}\. \*\*|\Z)", re.M | re.S)
            if not pattern.search(section):
                raise ValueError(f"{chapter}: no item {change.number} in its Exercises section")
            section = pattern.sub(lambda _: change.item + "\n", section, count=1)
            cell["source"] = (head + "## Exercises" + section).splitlines(keepends=True)
        if cell["cell_type"] == "code" and "exercise" in cell["metadata"].get("tags", []):
            if change and f"def {change.old_name}(" in text:
                cell["source"] = change.source.rstrip("\n").splitlines(keepends=True)
                cell["outputs"], cell["execution_count"] = [], None
            if public_tag and PUBLIC_TAG not in cell["metadata"]["tags"]:
                cell["metadata"]["tags"] = cell["metadata"]["tags"] + [PUBLIC_TAG]
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write a copy of a chapter with its re-worded exercise and the public tag")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-public-tag", action="store_true", help=f"do not add the {PUBLIC_TAG!r} tag")
    args = parser.parse_args(argv)
    if args.out.resolve() == args.notebook.resolve():
        print("error: OUT must differ from the input notebook (this tool never edits a notebook in place)", file=sys.stderr)
        return 2
    notebook = json.loads(args.notebook.read_text(encoding="utf-8"))
    chapter = notebook.get("metadata", {}).get("cnm_minimal", {}).get("chapter") or args.notebook.stem
    changed = apply(notebook, chapter, public_tag=not args.no_public_tag)
    args.out.write_text(json.dumps(changed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
