"""What a fitted job scores beyond its own test split: external validation sets (``--external``) and corrupted
copies of the test split (``--robustness``, the corruption registry), planned with every job
(:mod:`~medbench.shift.plan.plan`), and the blocks of results.json they fill, recomputed from the jobs
(:mod:`~medbench.shift.plan.recompute`)."""
