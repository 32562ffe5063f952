document.querySelectorAll('details').forEach(d => { d.open = true; });
const column = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
const style = getComputedStyle(column);
const right = column.getBoundingClientRect().right - parseFloat(style.paddingRight);
const selector = 'div.highlight pre, div.cell_output > *, div.cell_output pre, div.cell_output img, ' +
  'div.cell_output svg, div.cell_output table, div.cell_output canvas, div.cell_output .cnm-explorer, div.math, ' +
  'div.math mjx-container';
const kindOf = el => el.closest('div.math') ? 'display equation'
  : (el.closest('div.cell_output') ? 'output' : 'code cell');
const describe = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string'
  ? '.' + el.className.trim().split(/\s+/).slice(0, 3).join('.') : '');
const texOf = el => {
  try {
    const items = MathJax.startup.document.getMathItemsWithin(el);
    if (items.length) { return items[0].math; }
  } catch (e) { /* not typeset */ }
  return el.textContent;
};
const found = [];
for (const el of column.querySelectorAll(selector)) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) { continue; }
  const inside = el.clientWidth ? el.scrollWidth - el.clientWidth : 0;   // scrolls sideways in its own box
  const outside = box.right - right;                                    // sticks out of the content column
  if (Math.max(inside, outside) > 1) {
    const kind = kindOf(el);
    let text = kind === 'display equation' ? texOf(el.closest('div.math'))
      : (el.innerText || el.getAttribute('src') || '');
    if (el.tagName === 'PRE') {   // name the widest line, which is the one to shorten
      const widest = text.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      text = `${widest.length} characters: ${widest.trim()}`;
    }
    found.push({el, kind, element: describe(el), px: Math.round(Math.max(inside, outside)),
                how: outside > 1 ? 'sticks out of the content column' : 'scrolls sideways in its box',
                text: text.replace(/\s+/g, ' ').trim().slice(0, 90)});
  }
}
// keep the innermost offender of each nest (a wide <pre> also widens the output block around it)
const kept = found.filter(f => !found.some(g => g !== f && f.el.contains(g.el)));
return kept.map(({el, ...rest}) => rest);
