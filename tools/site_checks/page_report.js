const done = arguments[arguments.length - 1];
const settle = async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await new Promise(r => setTimeout(r, 1500));   // let the widget manager render saved widgets
  const text = document.body.innerText;
  done({
    brokenImages: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    tracebacks: Array.from(document.querySelectorAll('.cell_output')).map(o => o.innerText)
      .filter(t => /Traceback \(most recent call last\)/.test(t)).map(t => t.slice(0, 300)),
    errorOutputs: document.querySelectorAll('.output.traceback, .output.error, .output.stderr').length,
    mathSource: document.querySelectorAll('.math, span.math, div.math').length,
    mathRendered: document.querySelectorAll('mjx-container').length,
    mathErrors: Array.from(document.querySelectorAll('mjx-merror, [data-mjx-error]'))
      .map(e => (e.getAttribute('data-mjx-error') || e.textContent || '').slice(0, 200)),
    rawTex: /\\\(|\\\[|\$\$/.test(text),
    widgetViews: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
    widgetsRendered: document.querySelectorAll('.jupyter-widgets, .widget-slider, .lm-Widget').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href')),
  });
};
settle();
