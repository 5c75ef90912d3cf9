"""The dataset audit: what in the data can make a score wrong before any model is fitted.

* :mod:`medbench.datasets.groups` - patient groups from naming schemes (a table), ``--groups CSV`` and
  ``--group-pattern REGEX``, and how many groups cross the splits;
* :mod:`medbench.audit.phash` and :mod:`medbench.audit.duplicates` - near-duplicate images by a DCT
  perceptual hash, within and across splits and between datasets;
* :mod:`medbench.audit.metadata` and :mod:`medbench.audit.shortcuts` - what is not the anatomy (file
  format, size, colour, bit depth, borders) per class, and whether a metadata-only classifier separates
  the classes;
* :mod:`medbench.audit.run` - the whole audit as the ``audit`` block of results.json.

This ``__init__`` imports nothing, so the dataset loaders can use :mod:`medbench.datasets.groups`.
"""
