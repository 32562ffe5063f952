"""Data layer: annotations, features, text, batching, simulator, downloads (chapter 2)."""
