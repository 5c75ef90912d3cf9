"""Dataset fields a loader derives from what it read, the same way in every loader.

* patient groups from file names by the naming schemes of :mod:`medbench.datasets.groups` (:func:`patient_id`, :func:`groups_for`: ``Dataset.groups``
  and ``group_source``), and the split wording of kinds that split by those groups (:data:`GROUP_SPLIT`);
* the positive class of a normal-vs-disease pair (:func:`positive_class_index`);
* the colour count of an RGB load, with its warning when ``--channels auto`` chose RGB for mostly gray
  images (:func:`colour_note`).

Used by the folder, CoronaHack and npz loaders; a new dataset kind takes what it needs from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from medbench.core.warn import warn
from medbench.datasets.groups import groups_from_schemes, match_scheme
from medbench.features.colour import colour_image_count

GROUP_SOURCE_NONE = "none (no patient ids in file names: each image is its own group)"


def patient_id(filename: str) -> str | None:
    """Patient id by the naming schemes of :data:`medbench.datasets.groups.PATIENT_SCHEMES` (Kermany's
    ``person1000_bacteria_2931.jpeg`` -> ``person1000``, NIH ChestX-ray14, CheXpert, MIMIC-CXR), else None."""
    hit = match_scheme(filename)
    return None if hit is None else hit[0]


def groups_for(ids: list[str]) -> tuple[np.ndarray, str]:
    """Group per image (its patient id, else the full id itself) and a description for
    ``Dataset.group_source``. ``ids`` are the dataset's unique ids (relative paths)."""
    return groups_from_schemes(ids)


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
