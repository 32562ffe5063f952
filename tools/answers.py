"""Write the instructor's answer key, apart from the book (``make answers``): ``_build/answers/``.

Three sources, none of them the book's pages:

* ``tools/answer_key.md``: the answers to the written exercises (and to the written part of the graded ones);
* each chapter's "## Exercises" section: the questions, quoted as the chapter states them;
* each chapter's cells tagged ``exercise``: the graded solutions, between ``# BEGIN SOLUTION`` and ``# END
SOLUTION``.

``OUT/answers.md`` holds everything as Markdown and ``OUT/index.html`` as one page (its equations render with
the MathJax copy that ``make book`` vendors into ``_vendor/``, when it is there, and stay TeX otherwise).
``--check`` only checks that every written exercise of every chapter has an answer and that every answer
belongs to an exercise (``tests/test_classroom.py`` runs it), and exits 1 when one does not.

Usage: python tools/answers.py [--out _build/answers] [--key tools/answer_key.md] [--check]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = Path(__file__).resolve().parent / "answer_key.md"
ITEM = re.compile(r"^(\d+)\. \*\*(.+?)\*\*(.*?)(?=^\d+\. \*\*|\Z)", re.M | re.S)
DEFINES = re.compile(r"^def (\w+)\(", re.M)


@dataclass
class Exercise:
    number: int
    title: str  # as the chapter writes it, e.g. "Half height (graded, coding)."
    text: str  # the whole item, Markdown
    graded: bool
    solutions: list[str] = field(default_factory=list)  # the exercise cells whose function the item names


@dataclass
class Answer:
    number: int
    title: str
    function: str | None  # set for the written part of a graded exercise
    body: str


def normalise(title: str) -> str:
    """ "Half height (graded, coding)." and "Half height" are the same exercise."""
    return re.sub(r"\s*\([^)]*\)\s*", " ", title).strip().rstrip(".").strip().lower()


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def chapter_exercises(path: Path) -> tuple[str, list[Exercise]]:
    """The chapter's title and its exercises, with the solutions of the graded ones."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    markdown = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    title = next((m.splitlines()[0].lstrip("# ").strip() for m in markdown if m.startswith("# ")), path.stem)
    section = next((m.split("## Exercises", 1)[1] for m in reversed(markdown) if "## Exercises" in m), "")
    code = [
        _source(c) for c in cells if c["cell_type"] == "code" and "exercise" in c["metadata"].get("tags", [])
    ]
    exercises = []
    for match in ITEM.finditer(section):
        number, name, rest = int(match.group(1)), match.group(2), match.group(3)
        text = f"**{name}**{rest}".strip()
        graded = "graded" in name.lower()
        named = {n for n in re.findall(r"`(\w+)\(", text)}
        solutions = [s for s in code if set(DEFINES.findall(s)) & named] if graded else []
        exercises.append(Exercise(number, name, text, graded, solutions))
    return title, exercises


def parse_key(text: str) -> dict[str, list[Answer]]:
    """``## chapter`` sections of ``### N. Title [function]`` entries."""
    key: dict[str, list[Answer]] = {}
    for chapter_block in re.split(r"^## ", text, flags=re.M)[1:]:
        chapter, _, rest = chapter_block.partition("\n")
        answers = key.setdefault(chapter.strip(), [])
        for block in re.split(r"^### ", rest, flags=re.M)[1:]:
            heading, _, body = block.partition("\n")
            match = re.match(r"(\d+)\.\s+(.*?)\s*(?:\[(\w+)\])?\s*$", heading.strip())
            if not match:
                raise ValueError(
                    f"answer key, chapter {chapter.strip()}: cannot read the heading {heading.strip()!r}"
                )
            answers.append(Answer(int(match.group(1)), match.group(2), match.group(3), body.strip()))
    return key


def check(chapters: list[Path], key: dict[str, list[Answer]]) -> list[str]:
    """Every written exercise answered, every answer matched to an exercise of the same number and title."""
    problems = []
    for path in chapters:
        _, exercises = chapter_exercises(path)
        answers = key.get(path.stem, [])
        by_number = {e.number: e for e in exercises}
        for e in exercises:
            if not e.graded and not any(a.number == e.number for a in answers):
                problems.append(
                    f"{path.stem}: written exercise {e.number} ({e.title}) has no answer in the key"
                )
        for a in answers:
            e = by_number.get(a.number)
            if e is not None and a.function and a.function not in set(re.findall(r"`(\w+)\(", e.text)):
                continue  # the written part of another version of that exercise (re-worded)
            if e is None:
                problems.append(
                    f"{path.stem}: the key answers exercise {a.number}, which the chapter does not have"
                )
            elif normalise(e.title) != normalise(a.title):
                problems.append(
                    f"{path.stem}: exercise {a.number} is {e.title!r} in the chapter but {a.title!r} in the "
                    "key"
                )
            elif e.graded and a.function is None:
                problems.append(f"{path.stem}: exercise {a.number} is graded; its key entry needs [function]")
    problems += [
        f"the key has a chapter {c!r} that is not in book/"
        for c in key
        if c not in {p.stem for p in chapters}
    ]
    return problems


def markdown(chapters: list[Path], key: dict[str, list[Answer]]) -> str:
    lines = [
        "# Answer key",
        "",
        "For instructors: the answers to every chapter's exercises, kept out of the book's pages. Graded "
        "exercises "
        "show the notebook's solution; `make grade` checks students' code.",
        "",
    ]
    for path in chapters:
        title, exercises = chapter_exercises(path)
        answers = key.get(path.stem, [])
        lines += [f"## {title}", ""]
        for e in exercises:
            lines += [
                f"### Exercise {e.number}",
                "",
                "> " + "\n> ".join(line.strip() for line in e.text.splitlines()),
                "",
            ]
            for source in e.solutions:
                lines += [
                    "Solution (the notebook's exercise cell):",
                    "",
                    "```python",
                    source.rstrip(),
                    "```",
                    "",
                ]
            named = set(re.findall(r"`(\w+)\(", e.text))
            for a in answers:
                if a.number == e.number and (a.function is None or a.function in named):
                    lines += [a.body, ""]
    return "\n".join(lines).rstrip() + "\n"


def page(text: str, mathjax: str | None) -> str:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark").enable("table").use(dollarmath_plugin)
    md.add_render_rule(
        "math_inline", lambda self, tokens, i, options, env: f"\\({html.escape(tokens[i].content)}\\)"
    )
    md.add_render_rule(
        "math_block",
        lambda self, tokens, i, options, env: f"<div>\\[{html.escape(tokens[i].content)}\\]</div>\n",
    )
    script = f'<script defer src="{html.escape(mathjax)}"></script>' if mathjax else ""
    style = (
        "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 "
        "1rem;line-height:1.5}"
        "blockquote{border-left:4px solid #ccc;margin-left:0;padding-left:1rem;color:#333}"
        "pre{background:#f5f5f5;padding:.75rem;overflow-x:auto}code{font-size:90%}"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Answer key</title>'
        f"<style>{style}</style>{script}</head><body>\n{md.render(text)}</body></html>\n"
    )


def build(out: Path, chapters: list[Path], key_path: Path = KEY) -> Path:
    key = parse_key(key_path.read_text(encoding="utf-8"))
    problems = check(chapters, key)
    if problems:
        raise ValueError("the answer key does not match the chapters:\n  " + "\n  ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    text = markdown(chapters, key)
    (out / "answers.md").write_text(text, encoding="utf-8")
    mathjax = ROOT / "_vendor" / "mathjax" / "tex-chtml.js"
    relative = os.path.relpath(mathjax, out) if mathjax.is_file() else None
    (out / "index.html").write_text(page(text, relative), encoding="utf-8")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "answers")
    parser.add_argument("--key", type=Path, default=KEY)
    parser.add_argument("--check", action="store_true", help="only check the key against the chapters")
    args = parser.parse_args(argv)
    chapters = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
    if args.check:
        problems = check(chapters, parse_key(args.key.read_text(encoding="utf-8")))
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1 if problems else 0
    try:
        written = build(args.out, chapters, args.key)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"The answer key: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
