"""Pictures of the audit's example near-duplicate pairs across splits and sets: each pair side by side, written as a small PNG under
``OUT/audit/<16 hex digits>.png`` (the name hashes the two ids and their pixels), and named in the example's
``thumbnail`` field so the report can show it (the report only links files; ``medbench report`` never
draws them).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medbench.core.atomic import write_bytes

SIDE = 96  # pixels per image in a pair picture
PER_ENTRY = 3  # example pairs drawn per entry (across splits and sets: the leakage)
FOLDER = "audit"


def _gray(image: np.ndarray) -> Image.Image:
    im = Image.fromarray(np.asarray(image))
    return im.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BILINEAR)


def pair_png(a: np.ndarray, b: np.ndarray) -> bytes:
    """PNG bytes of images ``a`` and ``b`` side by side, with a 4-pixel white gap."""
    canvas = Image.new("RGB", (2 * SIDE + 4, SIDE), "white")
    canvas.paste(_gray(a), (0, 0))
    canvas.paste(_gray(b), (SIDE + 4, 0))
    buf = io.BytesIO()
    canvas.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def attach(block: dict[str, Any], ds: Any, others: dict[str, Any], out_dir: Path) -> int:
    """Draw the example pairs of ``block["duplicates"]`` (``others``: set text -> object with ``ids`` and
    ``images``), write them under ``out_dir/audit/`` and record each one's path; returns how many."""
    where = {str(i): k for k, i in enumerate(ds.ids.tolist())}
    made = 0
    d = block["duplicates"]
    entries = [(e, ds, ds) for e in d["across"].values()]  # within a split: counted, not drawn
    for ext in d["external"]:
        other = others.get(ext["dataset"])
        if other is not None:
            entries.append((ext["all"], ds, other))
    for entry, set_a, set_b in entries:
        index_b = where if set_b is ds else {str(i): k for k, i in enumerate(set_b.ids.tolist())}
        for example in entry["examples"][:PER_ENTRY]:
            ia, ib = where.get(example["a"]), index_b.get(example["b"])
            if ia is None or ib is None:
                continue
            png = pair_png(set_a.images[ia], set_b.images[ib])
            digest = hashlib.sha256("\0".join((example["a"], example["b"])).encode() + png).hexdigest()
            name = f"{FOLDER}/{digest[:16]}.png"
            write_bytes(Path(out_dir) / name, png)
            example["thumbnail"] = name
            made += 1
    return made
