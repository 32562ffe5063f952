const c = arguments[0];
return c.classList.contains('noUi-handle') ? c.getAttribute('aria-valuenow')
  : (c.type === 'checkbox' ? String(c.checked) : c.value);
