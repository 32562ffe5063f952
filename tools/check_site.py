"""Open every page of the built book in headless Chromium and fail on anything a reader would see broken.

Checks, per page: it exists for every entry of ``_toc.yml``; every image loaded; no Python traceback or
error output is shown; equations were typeset by MathJax (no raw TeX left); saved widgets were rendered;
every local link points to an existing file; and the browser console has no error other than a public
CDN that cannot be reached (this machine, and CI, are offline). Then, in the 1280 px window:

* **equations**: MathJax drew no error in place of an equation (an ``mjx-merror`` element: a yellow box with
  the message, e.g. "\\tag not allowed in split environment"); before the pages, a page with a planted error
  is checked and must be reported, so that a check that sees nothing cannot pass;
* **overflow**: no code cell, output or display equation is wider than the content column or scrolls
  sideways inside its own box (collapsed cells are opened first); each is reported with its element, the
  overflow in px and its widest line (or its TeX);
* **explorers**: every explorer (the book's ``.cnm-explorer`` blocks of ``cnm_minimal/book/widgets.py``, and
  any saved ipywidgets view with a control and an HTML picture) either has its controls disabled, with a
  visible note, or responds: its first control is moved as a reader would (an arrow key on a slider, another
  option of a list, a drag of an ipywidgets handle) and the picture must change. Explorers that recompute in
  the browser (``book/_ext/static/cnm_explorers.js``) carry values computed by the package in Python
  (``data-checks``): the browser's formulas must give them.

Usage: ``python tools/check_site.py _build/html [--screenshots DIR]``. Needs Debian's ``chromium`` and
``chromium-driver`` (``make check-site`` installs them when missing).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]
# Console messages about public hosts that cannot be reached offline are expected, not failures.
OFFLINE_NOISE = re.compile(
    r"net::ERR_(NAME_NOT_RESOLVED|INTERNET_DISCONNECTED|CONNECTION_REFUSED|"
    r"ADDRESS_UNREACHABLE|NETWORK_CHANGED|TIMED_OUT|CONNECTION_TIMED_OUT)"
)

SCRIPTS = Path(__file__).resolve().parent / "site_checks"


def _script(name: str) -> str:
    """A check that runs in the page, from ``tools/site_checks/``."""
    return (SCRIPTS / name).read_text(encoding="utf-8")


PAGE_REPORT_JS = _script("page_report.js")


# Every code cell, output and display equation of the content column; the widest offender is reported,
# not each of its wrappers. Collapsed cells (<details>) are opened first, as a reader would.
OVERFLOW_JS = _script("overflow.js")

# The explorers of a page: the book's own (.cnm-explorer) and saved ipywidgets views holding a picture.
EXPLORERS_JS = _script("explorers.js")

SNAPSHOT_JS = _script("snapshot.js")

FIRST_CONTROL_JS = _script("first_control.js")

CONTROL_VALUE_JS = _script("control_value.js")

# Run the browser's formulas at the states the package computed in Python (data-checks).
FORMULA_CHECKS_JS = _script("formula_checks.js")


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the browser closing a connection early (BrokenPipeError) is not a problem of the site


def toc_pages(toc: Path) -> list[str]:
    files = re.findall(r"(?:root|file):\s*(\S+)", toc.read_text())
    return [f"{f}.html" for f in files]


def browser(user_data: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        raise SystemExit(
            "check_site: chromium and chromedriver are needed (Debian: chromium chromium-driver)"
        )
    options.binary_location = binary
    for flag in FLAGS + [f"--user-data-dir={user_data}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver_path))


def check_page(driver, site: Path, base: str, page: str, screenshots: Path | None) -> list[str]:
    problems = []
    driver.get(base + page)
    driver.set_script_timeout(60)
    report = driver.execute_async_script(PAGE_REPORT_JS)
    for src in report["brokenImages"]:
        problems.append(f"broken image {src}")
    for text in report["tracebacks"]:
        problems.append(f"traceback or error in an output: {text!r}")
    if report["errorOutputs"]:
        problems.append(f"{report['errorOutputs']} error/stderr output block(s)")
    if report["mathSource"] and not report["mathRendered"]:
        problems.append("equations were not typeset by MathJax")
    for text in dict.fromkeys(report["mathErrors"]):
        problems.append(f"MathJax error in an equation: {text!r}")
    if report["rawTex"]:
        problems.append("raw TeX delimiters are visible in the page text")
    if report["widgetViews"] and not report["widgetsRendered"]:
        problems.append(f"{report['widgetViews']} saved widget(s) were not rendered")
    shown = urlparse(driver.current_url).path.lstrip("/") or page  # after a redirect page, the target
    for href in report["links"]:
        parsed = urlparse(href)
        if parsed.scheme or href.startswith(("#", "mailto:")):
            continue
        target = (site / unquote(shown)).parent / unquote(parsed.path)
        if parsed.path and not target.exists():
            problems.append(f"link to a missing file: {href}")
    problems += check_explorers(driver)
    problems += [
        f"overflow: {o['kind']} ({o['element']}) {o['how']} by {o['px']} px: {o['text']!r}"
        for o in driver.execute_script(OVERFLOW_JS)
    ]
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE" and not OFFLINE_NOISE.search(entry["message"]):
            problems.append(f"console error: {entry['message'][:300]}")
    if screenshots is not None:
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(max(height, 900), 16000))
        driver.save_screenshot(str(screenshots / (page.replace("/", "_").removesuffix(".html") + ".png")))
        driver.set_window_size(1280, 900)
    return problems


def move(driver, control) -> bool:
    """Move one control by one step, as a reader would (keyboard or a pick); True if its value changed."""
    before = driver.execute_script(CONTROL_VALUE_JS, control)
    if control.tag_name == "select":
        choice = Select(control)
        current = [o.get_attribute("value") for o in choice.all_selected_options]
        others = [o for o in choice.options if o.get_attribute("value") not in current and o.is_enabled()]
        if others:
            choice.select_by_value(others[0].get_attribute("value"))
    elif control.get_attribute("type") in ("checkbox", "radio"):
        control.click()
    elif "noUi-handle" in (control.get_attribute("class") or ""):  # an ipywidgets slider: drag its handle
        for offset in (40, -40):
            ActionChains(driver).click_and_hold(control).move_by_offset(offset, 0).release().perform()
            if driver.execute_script(CONTROL_VALUE_JS, control) != before:
                break
    else:
        for key in (Keys.ARROW_RIGHT, Keys.ARROW_LEFT):
            control.send_keys(key)
            if driver.execute_script(CONTROL_VALUE_JS, control) != before:
                break
    return driver.execute_script(CONTROL_VALUE_JS, control) != before


def check_explorers(driver) -> list[str]:
    """Each explorer is disabled (with a note) or its picture responds to its first control."""
    problems = []
    for k, explorer in enumerate(driver.execute_script(EXPLORERS_JS)):
        name = f"explorer {k + 1} ({explorer['kind']}, first control {explorer['first']!r})"
        if not explorer["ready"]:
            problems.append(f"{name} was not started by cnm_explorers.js")
            continue
        if explorer["hasChecks"]:
            answer = driver.execute_script(FORMULA_CHECKS_JS, k)
            if "error" in answer:
                problems.append(f"{name}: {answer['error']}")
            for result in answer.get("results", []):
                if not result["ok"]:
                    problems.append(
                        f"{name}: the browser's formula differs from the package's at {result['state']}: "
                        f"{result['detail']}"
                    )
        if not explorer["enabled"]:
            if explorer["controls"] and not explorer["noteVisible"]:
                problems.append(f"{name} has disabled controls but no visible note saying why")
            continue
        control = driver.execute_script(FIRST_CONTROL_JS, k)
        before = driver.execute_script(SNAPSHOT_JS, k)
        try:
            changed = move(driver, control)
        except WebDriverException as error:
            problems.append(
                f"{name}: its first control could not be moved: {error.msg.splitlines()[0][:120]}"
            )
            continue
        time.sleep(0.3)
        if not changed:
            problems.append(f"{name}: its first control is enabled but does not move")
        elif driver.execute_script(SNAPSHOT_JS, k) == before:
            problems.append(
                f"{name}: its controls move but the picture does not respond "
                "(disable them with a note, or make the picture recompute)"
            )
    return problems


PLANTED = "_planted_mathjax_error.html"
PLANTED_TEX = r"\[\begin{split}a \tag{1}\\ b\end{split}\]"


def plant_error(site: Path, pages: list[str]) -> str:
    """A copy of a built page whose body is one equation MathJax cannot typeset (a tag inside a split)."""
    source = (site / next(p for p in pages if p.endswith("notation.html") or p == "index.html")).read_text()
    body = f'<div class="math notranslate nohighlight">{PLANTED_TEX}</div>'
    planted = re.sub(
        r"(<main[^>]*>).*?(</main>)", lambda m: m.group(1) + body + m.group(2), source, count=1, flags=re.S
    )
    (site / Path(pages[0]).parent / PLANTED).write_text(planted if body in planted else source + body)
    return (Path(pages[0]).parent / PLANTED).as_posix()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML book, e.g. _build/html")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument(
        "--screenshots", type=Path, default=None, help="save a full-page PNG of each page here"
    )
    args = parser.parse_args(argv[1:])
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        raise SystemExit(f"check_site: {args.site}/index.html not found: build the book first (make book)")
    expected = toc_pages(args.toc)
    pages = sorted(
        {
            p.relative_to(site).as_posix()
            for p in site.rglob("*.html")
            if not p.relative_to(site).as_posix().startswith(("_static/", "_sources/"))
        }
    )
    failures = {page: ["page is missing"] for page in expected if not (site / page).is_file()}
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    server, base = serve(site)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check-site-") as user_data:
        driver = browser(user_data)
        planted = plant_error(site, pages)
        try:
            caught = [
                p for p in check_page(driver, site, base, planted, None) if p.startswith("MathJax error")
            ]
            print(f"{'ok  ' if caught else 'FAIL'} a planted MathJax error is reported: {caught[:1]}")
            if not caught:
                failures["(planted MathJax error)"] = ["a page with a planted MathJax error passed the check"]
            for page in pages:
                problems = check_page(driver, site, base, page, args.screenshots)
                print(f"{'ok  ' if not problems else 'FAIL'} {page}")
                if problems:
                    failures[page] = problems
        finally:
            (site / planted).unlink(missing_ok=True)
            driver.quit()
            server.shutdown()
    for page, problems in sorted(failures.items()):
        for problem in problems:
            print(f"  {page}: {problem}")
    print(
        f"check_site: {len(pages)} pages checked in {time.perf_counter() - start:.1f} s, "
        f"{len(failures)} with problems"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
