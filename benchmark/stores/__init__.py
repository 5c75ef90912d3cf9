"""Stores of runs across time and machines: committed baselines (:mod:`~medbench.stores.baseline`), the
history of runs by code version and its analysis (:mod:`~medbench.stores.history`), and what medbench's
caches hold (:mod:`~medbench.stores.cacheinfo`)."""
