"""results.json on disk and the typed view over it: the declared schemas (:mod:`~medbench.records.jobs.schemas`),
reading, validating and writing results (:mod:`~medbench.records.jobs.results`), the cross-field consistency
checks, the job record's schema (:mod:`~medbench.records.jobs.jobs`), and the read-only records everything else
reads through (:mod:`~medbench.records.jobs.view`: a run, a job, its predictions)."""
