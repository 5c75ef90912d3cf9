"""Sub-commands living in their own modules; each has ``register(subparsers)`` (see ``medbench.cli``)."""
