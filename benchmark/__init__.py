"""medbench harness: datasets, identical splits, the job runner, metrics and the CLI."""

__version__ = "0.1.0"
