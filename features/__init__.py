"""Feature extractors as scikit-learn transformers (HOG, SIFT bag-of-visual-words, raw pixels)."""
