"""medbench's bottom layer: errors, atomic writes, paths, settings, cache keys and the version.

Nothing here imports any other part of medbench; every other layer may import it.
"""
