"""The schemas of what medbench's caches store beside their values, checked before anything is read from them.

* :data:`KEY_INPUTS_SCHEMA` - a cache entry's key inputs (``kind``, ``code``, ``libraries``, ``params``), as
  :func:`medbench.core.cachekeys.key_inputs` writes them: in a job record's ``key_inputs`` and in every
  ``$MEDBENCH_CACHE_DIR`` sidecar ``.json``.
* :data:`JOB_RECORD_SCHEMA` - a job record (``OUT/jobs/<job>.json``): a results.json job
  (:data:`medbench.records.schemas.JOB`) plus its ``key``, ``key_inputs`` and ``body_sha256``.

:func:`problem` returns the first violation as one line (or None); a record or sidecar with one is
recomputed (a run) or reported as damaged (``medbench cache info``), never read further.
"""

from __future__ import annotations

from typing import Any

from medbench.core.errors import MedbenchError
from medbench.records import schemas

_HEX = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
KEY_INPUTS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["kind", "code", "libraries", "params"],
    "properties": {
        "kind": {"type": "string"},
        "code": {"type": "object", "required": ["modules", "sha256"], "properties": {
            "modules": {"type": "array", "items": {"type": "string"}}, "sha256": {"type": "string"}}},
        "libraries": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "params": {"type": "object"}}}

JOB_RECORD_SCHEMA: dict[str, Any] = {
    **schemas.JOB,
    "required": [*schemas.JOB["required"], "key", "key_inputs", "body_sha256"],
    "properties": {**schemas.JOB["properties"], "key": _HEX, "key_inputs": KEY_INPUTS_SCHEMA,
                   "body_sha256": _HEX}}


def problem(data: Any, schema: dict[str, Any], source: str) -> str | None:
    """The first way ``data`` breaks ``schema`` (``"<source>: <field>: <problem>"``), or None."""
    try:
        schemas.validate(data, schema, source)
    except MedbenchError as exc:
        return str(exc)
    except RecursionError:
        return f"{source}: nested too deeply to check"
    return None

#: How a job's own test split is named where its metrics are undefined (a split lacking a class).
TEST_SPLIT = "the test split"
