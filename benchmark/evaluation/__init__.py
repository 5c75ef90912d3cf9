"""Evaluation: how medbench judges pipelines, in one place.

* :mod:`~medbench.evaluation.protocol`: the constants of the protocol (alpha, CI level, resamples, seed);
* :mod:`~medbench.evaluation.paired`: the paired comparison of two jobs on the same test images (McNemar,
  DeLong, paired bootstrap) with the one "cannot be paired" reason - used by a run's statistics, the
  suite, ``medbench compare`` / the regression gate, history and external validation;
* :mod:`~medbench.evaluation.section`: a run's ``statistics`` section (CIs, pipelines ranked by the one
  ranking rule, comparisons with the reference, classical vs deep), from the jobs' predictions alone.

Renderers (``medbench.reports``) only turn what these return into words and pictures.
"""
