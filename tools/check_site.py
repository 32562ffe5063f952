"""Open every page of the built book in headless Chromium and fail on anything a reader would see broken.

Checks, per page: it exists for every entry of ``_toc.yml``; every image loaded; no Python traceback or
error output is shown; equations were typeset by MathJax (no raw TeX left); saved widgets were rendered;
every local link points to an existing file; and the browser console has no error other than a public
CDN that cannot be reached (this machine, and CI, are offline).

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
from selenium.webdriver.chrome.service import Service

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
         "--no-first-run", "--disable-component-update", "--disable-sync", "--window-size=1280,900"]
# Console messages about public hosts that cannot be reached offline are expected, not failures.
OFFLINE_NOISE = re.compile(r"net::ERR_(NAME_NOT_RESOLVED|INTERNET_DISCONNECTED|CONNECTION_REFUSED|"
                           r"ADDRESS_UNREACHABLE|NETWORK_CHANGED|TIMED_OUT|CONNECTION_TIMED_OUT)")

PAGE_REPORT_JS = """
const done = arguments[arguments.length - 1];
const settle = async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await new Promise(r => setTimeout(r, 1500));   // let the widget manager render saved widgets
  const text = document.body.innerText;
  done({
    brokenImages: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    tracebacks: Array.from(document.querySelectorAll('.cell_output')).map(o => o.innerText)
      .filter(t => /Traceback \\(most recent call last\\)/.test(t)).map(t => t.slice(0, 300)),
    errorOutputs: document.querySelectorAll('.output.traceback, .output.error, .output.stderr').length,
    mathSource: document.querySelectorAll('.math, span.math, div.math').length,
    mathRendered: document.querySelectorAll('mjx-container').length,
    rawTex: /\\\\\\(|\\\\\\[|\\$\\$/.test(text),
    widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
    widgetsRendered: document.querySelectorAll('.jupyter-widgets, .widget-slider, .lm-Widget').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  });
};
settle();
"""


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
        raise SystemExit("check_site: chromium and chromedriver are needed (Debian: chromium chromium-driver)")
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
    if report["rawTex"]:
        problems.append("raw TeX delimiters are visible in the page text")
    if report["widgetViews"] and not report["widgetsRendered"]:
        problems.append(f"{report['widgetViews']} saved widget(s) were not rendered")
    shown = urlparse(driver.current_url).path.lstrip("/") or page   # after a redirect page, the target
    for href in report["links"]:
        parsed = urlparse(href)
        if parsed.scheme or href.startswith(("#", "mailto:")):
            continue
        target = (site / unquote(shown)).parent / unquote(parsed.path)
        if parsed.path and not target.exists():
            problems.append(f"link to a missing file: {href}")
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE" and not OFFLINE_NOISE.search(entry["message"]):
            problems.append(f"console error: {entry['message'][:300]}")
    if screenshots is not None:
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1280, min(max(height, 900), 16000))
        driver.save_screenshot(str(screenshots / (page.replace("/", "_").removesuffix(".html") + ".png")))
        driver.set_window_size(1280, 900)
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML book, e.g. _build/html")
    parser.add_argument("--toc", type=Path, default=Path("_toc.yml"))
    parser.add_argument("--screenshots", type=Path, default=None, help="save a full-page PNG of each page here")
    args = parser.parse_args(argv[1:])
    site = args.site.resolve()
    if not (site / "index.html").is_file():
        raise SystemExit(f"check_site: {args.site}/index.html not found: build the book first (make book)")
    expected = toc_pages(args.toc)
    pages = sorted({p.relative_to(site).as_posix() for p in site.rglob("*.html")
                    if not p.relative_to(site).as_posix().startswith(("_static/", "_sources/"))})
    failures = {page: ["page is missing"] for page in expected if not (site / page).is_file()}
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)
    server, base = serve(site)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="check-site-") as user_data:
        driver = browser(user_data)
        try:
            for page in pages:
                problems = check_page(driver, site, base, page, args.screenshots)
                print(f"{'ok  ' if not problems else 'FAIL'} {page}")
                if problems:
                    failures[page] = problems
        finally:
            driver.quit()
            server.shutdown()
    for page, problems in sorted(failures.items()):
        for problem in problems:
            print(f"  {page}: {problem}")
    print(f"check_site: {len(pages)} pages checked in {time.perf_counter() - start:.1f} s, "
          f"{len(failures)} with problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
