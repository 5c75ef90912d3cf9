"""Evaluation protocols a run can follow (``--protocol``), as data: what each fixes and how it differs.

``medbench`` (the default): the decision threshold of a binary task is chosen on validation (Youden's J),
any number of seeds, images as the dataset gives them (path datasets resized to ``--image-size``).
``medmnist``: the published MedMNIST v2 / MedMNIST+ protocol: the official split (required), ACC at the
arg-max / fixed 0.5 threshold, 3 seeds (0, 1, 2 when ``--seeds`` is left at its default 0) reported as mean ± sd,
and MedMNIST+ zero-padding when ``--image-size`` is above the file's size (never a resize).
The report's published-results section lists these rows beside the published sources' protocols.
"""

from __future__ import annotations

from typing import Any

from medbench.core.errors import MedbenchError

DEFAULT = "medbench"
#: The seeds ``--protocol medmnist`` runs when ``--seeds`` is left at its default.
MEDMNIST_SEEDS = (0, 1, 2)
#: A threshold rule per protocol (the runner's): ``youden`` on validation, or ``fixed-0.5``.
THRESHOLD_RULE = {"medbench": "youden", "medmnist": "fixed-0.5"}

#: What each protocol fixes, in the words the report uses (same keys as the published sources').
PROTOCOLS: dict[str, dict[str, str]] = {
    "medbench": {
        "threshold": "binary: Youden's J chosen on validation; multi-class: arg-max",
        "input": "the dataset's images (MedMNIST: the file's size; path datasets resized to --image-size); "
                 "each pipeline resizes to its own working size",
        "split": "official split where the dataset has one, else a seeded stratified split",
        "seeds": "as given (--seeds)",
        "training": "per pipeline: HOG / SIFT features + SVM / tree / XGBoost tuned on validation, a small CNN "
                    "from scratch, ResNet50 transfer",
        "weights": "ResNet50: ImageNet (Keras); the others: none",
    },
    "medmnist": {
        "threshold": "arg-max / fixed 0.5 (as MedMNIST v2 and MedMNIST+ report ACC)",
        "input": "the dataset's images, zero-padded (centred) to --image-size when it is above the file's size "
                 "(MedMNIST+); each pipeline then resizes to its own working size",
        "split": "the official split (required)",
        "seeds": "3 seeds (0, 1, 2 when --seeds is left at 0), mean ± sd",
        "training": "per pipeline (as medbench): HOG / SIFT features + SVM / tree / XGBoost tuned on validation, "
                    "a small CNN from scratch, ResNet50 transfer",
        "weights": "ResNet50: ImageNet (Keras); the others: none",
    },
}


def check_protocol(name: Any) -> str:
    """The protocol's name, or a one-line error listing the known ones."""
    if name not in PROTOCOLS:
        raise MedbenchError(f"--protocol {name!r} is not known; use one of: {', '.join(PROTOCOLS)}")
    return str(name)


def of(config: dict[str, Any] | None) -> str:
    """The protocol a results.json ``config`` block ran (``medbench`` when it predates ``--protocol``)."""
    return str((config or {}).get("protocol") or DEFAULT)
