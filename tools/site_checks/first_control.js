const root = document.querySelector('[data-check-site-index="' + arguments[0] + '"]');
return Array.from(root.querySelectorAll('input, select, .noUi-handle'))
  .filter(c => !(c.disabled || c.closest('[disabled]')))[0];
