const root = document.querySelector('[data-check-site-index="' + arguments[0] + '"]');
const pictures = root.querySelectorAll('.cnm-picture, .widget-html-content');
return Array.from(pictures).map(p => p.innerHTML + Array.from(p.querySelectorAll('canvas'))
  .map(c => c.toDataURL()).join('')).join('|');
