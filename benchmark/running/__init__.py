"""Running a benchmark: what a run is told (:class:`~medbench.running.config.RunConfig`, its options declared
once in :mod:`~medbench.running.options`, the suite file, the run protocols), where its jobs execute (the
local or Dask engine) and what one job does (the runner: fit, tune on validation, score the test split once,
the error gallery and occlusion maps, saved models for ``medbench predict``)."""
