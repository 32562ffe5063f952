// Loaded before RequireJS, the widget manager and MathJax on every page, when they are vendored
// (see cnm_book_site.py).
(function () {
  // The ipywidgets manager loads its fonts relative to the RequireJS address of its own modules: map
  // that address onto the vendored copy in _static (a global `require` object is RequireJS's config).
  const root = document.documentElement.dataset.content_root || "";
  const manager = new URL(root + "_static/html-manager", document.baseURI).href;
  window.__jupyter_widgets_assets_path__ = manager + "/";
  window.require = {paths: {"@jupyter-widgets/html-manager/dist": manager}};

  // ipywidgets typesets widget labels with the MathJax 2 call MathJax.Hub.Queue(["Typeset", MathJax.Hub, el]);
  // the book loads MathJax 3, which has no Hub. Give every MathJax object a Hub that forwards to MathJax 3.
  const hub = {
    Queue: function (...jobs) {
      for (const job of jobs) {
        const element = Array.isArray(job) ? job[2] : null;
        if (element && current && typeof current.typesetPromise === "function") {
          current.typesetPromise([element]).catch(() => {});
        }
      }
    },
  };
  let current = window.MathJax;
  const withHub = (value) => { if (value && typeof value === "object" && !value.Hub) { value.Hub = hub; } return value; };
  withHub(current);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    get() { return current; },
    set(value) { current = withHub(value); },
  });
})();
