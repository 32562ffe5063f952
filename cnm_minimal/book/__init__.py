"""The book's machinery, apart from the method: showing the package's source on a page and gluing numbers into
the prose (:mod:`~cnm_minimal.book.notebook`), the figures the chapters share (:mod:`~cnm_minimal.book.plots`)
and the explorers a reader plays with (:mod:`~cnm_minimal.book.widgets`). Nothing in the method imports it."""
