"""cnm_minimal: CNM (Zheng et al., AAAI 2022) rebuilt from scratch, one module per paper component.

Chapter 1 (the task): :mod:`cnm_minimal.metrics`, :mod:`cnm_minimal.baselines`.
"""

__version__ = "0.1.0"
