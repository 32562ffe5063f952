"""cnm_minimal: CNM (Zheng et al., AAAI 2022) rebuilt from scratch, one module per paper component.

The book's front page maps every chapter to its modules. Data flows one way: ``data`` -> the components
(``gaussian_mask``, ``negatives``, ``attention``, ``reconstruction``, ``losses``) -> ``model`` -> ``train``
and ``evaluate`` -> the book (``notebook``, ``plots``, ``widgets``).
"""

__version__ = "0.1.0"
