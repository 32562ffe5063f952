const root = document.querySelector('[data-check-site-index="' + arguments[0] + '"]');
if (!window.CNMExplorers) { return {error: 'cnm_explorers.js is not loaded'}; }
return {results: CNMExplorers.runChecks(root)};
