const roots = [];
for (const el of document.querySelectorAll('.cnm-explorer')) { roots.push(el); }
for (const el of document.querySelectorAll('.widget-subarea')) {
  if (el.querySelector('.widget-html-content')) { roots.push(el); }
}
roots.forEach((el, k) => { el.dataset.checkSiteIndex = String(k); });
return roots.map(el => {
  const controls = Array.from(el.querySelectorAll('input, select, .noUi-handle'));
  const enabled = controls.filter(c => !(c.disabled || c.closest('[disabled]')));
  const note = el.querySelector('.cnm-note');
  const label = c => {
    const box = c.closest('label, .widget-inline-hbox');
    const text = box ? (box.querySelector('.cnm-label, .widget-label') || box).textContent : c.name || '';
    return text.trim().slice(0, 40);
  };
  return {
    kind: el.classList.contains('cnm-explorer') ? (el.dataset.kind || '?') : 'ipywidgets',
    controls: controls.length,
    first: enabled.length ? label(enabled[0]) : (controls.length ? label(controls[0]) : ''),
    enabled: enabled.length,
    noteVisible: !!(note && note.offsetParent && note.textContent.trim()),
    ready: !el.classList.contains('cnm-explorer') || el.dataset.kind === 'fixed' || el.dataset.ready === 'true',
    hasChecks: !!el.dataset.checks,
  };
});
