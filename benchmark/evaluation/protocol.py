"""The constants of medbench's evaluation protocol, defined once (everything else imports them)."""

from __future__ import annotations

#: Significance level of every test medbench reports.
ALPHA = 0.05
#: Level of every confidence interval.
CI_LEVEL = 0.95
#: Bootstrap resamples behind every CI (``--bootstrap-resamples``) and the bootstrap's seed.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
#: The most resamples a run may ask for: the resample index matrix is resamples x test images of int64
#: (100,000 x 10,000 images = 8 GB); 100,000,000 was a MemoryError.
MAX_BOOTSTRAP_RESAMPLES = 100_000
#: Resamples of the paired bootstrap of two runs (``medbench compare``, history): its smallest p-value is
#: 2 / (B + 1), so B = 2000 keeps a clear drop significant after Holm over a few dozen pipelines.
PAIRED_RESAMPLES = 2000
#: What ranks pipelines, in order: ROC-AUC, then balanced accuracy (each in its own direction), then name.
RANK_METRICS = ("roc_auc", "balanced_accuracy")
#: Calibration metrics compared between a run's pipelines by a paired bootstrap.
CALIBRATION_TESTED = ("brier", "ece")
#: Metrics tested by McNemar on a subset of the images (None: all; "positive"/"negative": one class).
MCNEMAR_SUBSET = {"accuracy": None, "sensitivity": "positive", "specificity": "negative"}
