"""Dataset fields a loader derives from what it read, the same way in every loader.

* patient groups from Kermany-style file names (:func:`patient_id`, :func:`groups_for`: ``Dataset.groups``
  and ``group_source``), and the split wording of kinds that split by those groups (:data:`GROUP_SPLIT`);
* the positive class of a normal-vs-disease pair (:func:`positive_class_index`);
* the colour count of an RGB load, with its warning when ``--channels auto`` chose RGB for mostly gray
  images (:func:`colour_note`).

Used by the folder, CoronaHack and npz loaders; a new dataset kind takes what it needs from here.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from medbench.core.warn import warn
from medbench.features.colour import colour_image_count

_PATIENT_PATTERNS = (
    re.compile(r"^(person\d+)_"),  # person1000_bacteria_2931.jpeg -> person1000
    re.compile(r"^((?:[A-Za-z0-9]+-)?IM-\d+)-\d+"),  # IM-0115-0001, NORMAL2-IM-0588-0001 -> IM-0115, NORMAL2-IM-0588
)
GROUP_SOURCE_PATIENT = "file name (Kermany-style patient ids: personNNN, IM-NNNN, NORMAL2-IM-NNNN)"
GROUP_SOURCE_NONE = "none (no patient ids in file names: each image is its own group)"


def patient_id(filename: str) -> str | None:
    """Patient id in a Kermany-style file name (``person1000_bacteria_2931.jpeg`` -> ``person1000``)."""
    name = os.path.basename(filename)
    for pattern in _PATIENT_PATTERNS:
        m = pattern.match(name)
        if m:
            return m.group(1)
    return None


def groups_for(ids: list[str]) -> tuple[np.ndarray, str]:
    """Group per image (its patient id, else the full id itself) and a description for
    ``Dataset.group_source``. ``ids`` are the dataset's unique ids (relative paths)."""
    groups, parsed = [], 0
    for i in ids:
        pid = patient_id(i)
        parsed += pid is not None
        groups.append(pid if pid is not None else i)
    if parsed == len(ids):
        source = GROUP_SOURCE_PATIENT
    elif parsed == 0:
        source = GROUP_SOURCE_NONE
    else:
        source = (f"{GROUP_SOURCE_PATIENT} for {parsed} of {len(ids)} images; "
                  f"each of the others is its own group")
    return np.array(groups, dtype=str), source


def positive_class_index(class_names: list[str]) -> int | None:
    """Binary normal-vs-disease sets: the index of the class that is not 'normal'; else None."""
    if len(class_names) != 2:
        return None
    normal = [i for i, c in enumerate(class_names) if c.strip().lower().startswith("normal")]
    return 1 - normal[0] if len(normal) == 1 else None


def colour_note(images: np.ndarray, channels: str, where: str) -> dict[str, Any]:
    """For an RGB result: ``{"colour_images": n}`` (images that are not gray), with a warning when
    ``auto`` chose RGB although most images are gray (colour in a few files may be an artefact of
    their source, a shortcut rather than a signal). ``{}`` for a gray result."""
    if images.ndim != 4:
        return {}
    n = colour_image_count(images)
    if channels == "auto" and n <= len(images) // 2:
        warn(f"{where}: {n} of {len(images)} images have colour, so the dataset is loaded as RGB "
             f"(--channels auto); pass --channels gray if colour is not a signal here")
    return {"colour_images": n}


GROUP_SPLIT = "official train/test if present, else seeded stratified group split"
