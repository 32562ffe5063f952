"""Sphinx extension of this book: one repository setting, and assets that work offline.

* Launch buttons (Binder, Colab) and the repository/issues buttons are all driven by
  ``repository.url`` in ``_config.yml``. While it is empty (the project has no public address yet)
  none of them is shown, so the book never carries a placeholder link.
* When ``make book`` has vendored MathJax 3, RequireJS and the ipywidgets HTML manager into
  ``_vendor/`` (``tools/vendor_assets.py``), the pages load them from the book's own ``_static``
  folder and render equations and saved widgets without any network. Without ``_vendor/`` the
  public CDNs are used, which is Sphinx's and myst-nb's default.
* With the vendored assets, ``static/cnm_book_site.js`` points the widget manager at its fonts and lets the
  ipywidgets labels, which call the MathJax 2 API, work with MathJax 3.
* ``static/cnm_book_site.css`` makes room for the package's code lines (up to 115 characters): from 1200 to
  1600 px the page's table of contents moves into the theme's drawer and the text takes its column;
  printed output wraps, display equations scroll in their own box; and it lays out the explorers.
* ``static/cnm_explorers.js`` makes the explorers of ``cnm_minimal/book/widgets.py`` respond in the static
  pages (their ``text/html`` rendering, which ``nb_mime_priority_overrides`` in ``_config.yml`` prefers
  to the widget view: the saved widgets have no Python behind them in the book).
* Three known glitches of the theme stack are mended: the colour mode is set explicitly and inline scripts
  that an extension adds twice are emitted once (so that pages open without console errors), and the
  article header's contents button opens the contents drawer (``static/cnm_layout.js``).
"""

from __future__ import annotations

import json
from pathlib import Path

BINDER = "https://mybinder.org"
COLAB = "https://colab.research.google.com"
VENDOR_VERSIONS = {"mathjax": "3.2.2", "@jupyter-widgets/html-manager": "1.0.15", "requirejs": "2.3.8"}


def _vendor_dir(app) -> Path | None:
    vendor = Path(app.confdir) / "_vendor"
    marker = vendor / "VERSIONS.json"
    if marker.is_file() and json.loads(marker.read_text()) == VENDOR_VERSIONS:
        return vendor
    return None


def configure(app, config) -> None:
    options = dict(config.html_theme_options)
    repository = (options.get("repository_url") or "").strip()
    if repository:
        options["repository_url"] = repository
        options["launch_buttons"] = {
            "notebook_interface": "jupyterlab",
            "binderhub_url": BINDER,
            "colab_url": COLAB,
        }
        options.update(use_repository_button=True, use_issues_button=True)
    else:
        options.pop("repository_url", None)
        options["launch_buttons"] = {}
        options.update(use_repository_button=False, use_issues_button=False, use_edit_page_button=False)
    config.html_theme_options = options
    config.html_context = {**config.html_context, "default_mode": "light"}

    vendor = _vendor_dir(app)
    if vendor is not None:
        config.html_static_path = list(config.html_static_path) + [str(vendor)]
        config.mathjax_path = "mathjax/tex-chtml.js"
        config.nb_ipywidgets_js = {"require.js": {}, "html-manager/embed-amd.js": {}}
        app.add_js_file("cnm_book_site.js", priority=100)


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """sphinx-thebe adds its inline configuration twice under Jupyter Book 1 (a `const` declared twice)."""
    seen, unique = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (getattr(script, "filename", None) or "", attributes.get("body"), attributes.get("src"))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"][:] = unique


def finish_redirect_page(app, exception) -> None:
    """The root index.html that sphinx-external-toc writes is a bare redirect: give it the favicon too."""
    page = Path(app.outdir) / "index.html"
    favicon = app.config.html_favicon
    if exception is not None or not favicon or not page.is_file():
        return
    html = page.read_text(encoding="utf-8")
    if 'http-equiv="Refresh"' in html and 'rel="icon"' not in html:
        icon = f'<link rel="icon" href="_static/{Path(favicon).name}" />'
        page.write_text(f'<meta charset="utf-8" />{icon}\n{html}', encoding="utf-8")


def setup(app):
    app.connect("config-inited", configure)
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))
    app.add_css_file("cnm_book_site.css")
    app.add_js_file("cnm_layout.js", priority=900)
    app.add_js_file("cnm_explorers.js", priority=900)
    # early: Sphinx stops calling html-page-context handlers at the first one that returns a template
    app.connect("html-page-context", drop_duplicate_scripts, priority=1)
    app.connect("build-finished", finish_redirect_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
