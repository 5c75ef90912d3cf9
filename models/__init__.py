"""Classifiers and the pipeline registry (classical scikit-learn pipelines and Keras models)."""
