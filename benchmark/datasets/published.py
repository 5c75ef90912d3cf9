"""Published results on the test sets medbench loads, each with its citation and its protocol (data only).

Three sources:

* MedMNIST v2 (Yang et al. 2023): five methods on every 2D set, kept in ``info.MEDMNIST[name]["published"]``;
* MedMNIST+ (Doerrich et al., Sci Rep 2025): per resolution (28 / 64 / 128 / 224) and training scheme
  (end-to-end, linear probe, kNN k = 11) the row with the best test ACC, mean ± sd over 3 seeds (kNN:
  one figure, no AUC), read from the authors' tables ``assets/benchmark_results_<set>.png`` of
  github.com/sdoerrich97/rethinking-model-prototyping-MedMNISTPlus (commit b67b772);
* Kermany et al., Cell 2018: InceptionV3 transfer on the 624-image test set of the Kermany chest X-ray
  folder (234 normal / 390 pneumonia), matched by those test counts, never by path name.

Each row says whether its figures were checked against the source here (``checked``); a figure that
could not be checked carries the citation it was taken from. :func:`published_for` picks the rows for a
run's dataset card (results.json ``dataset``).
"""

from __future__ import annotations

from typing import Any

from medbench.datasets import info

#: The protocols behind the published figures, as the report lists them beside the run's own.
PROTOCOLS: dict[str, dict[str, str]] = {
    "medmnist-v2": {
        "citation": info.MEDMNIST_CITATION,
        "threshold": "arg-max of the predicted probabilities (0.5 for binary sets)",
        "input": "the 28 px file; ResNet (224) rows: 28 px images resized to 224",
        "seeds": "one figure per method (no sd reported)",
        "training": "ResNet-18 / ResNet-50 end-to-end; auto-sklearn, AutoKeras, Google AutoML Vision",
        "weights": "as in the paper (not recorded here)",
    },
    "medmnist-plus": {
        "citation": "Doerrich et al., Rethinking model prototyping through the MedMNIST+ dataset collection, "
                    "Scientific Reports 2025",
        "threshold": "fixed 0.5 (ACC at a fixed operating point)",
        "input": "the 28 / 64 / 128 / 224 px file, zero-padded to 224",
        "seeds": "mean ± sd over 3 seeds (kNN: one figure)",
        "training": "end-to-end, linear probe or kNN (k = 11); AdamW 1e-4, batch 64, up to 100 epochs, early "
                    "stopping on validation loss",
        "weights": "timm ImageNet-pretrained backbones (CLIP, DINO, EVA-02, SAM for the ViT variants)",
    },
    "kermany-2018": {
        "citation": "Kermany et al., Identifying medical diagnoses and treatable diseases by image-based deep "
                    "learning, Cell 2018",
        "threshold": "not recorded here",
        "input": "the full-resolution chest X-rays, resized for InceptionV3",
        "seeds": "one model (no sd reported)",
        "training": "transfer learning (InceptionV3)",
        "weights": "ImageNet",
    },
}

#: Where a figure was read from when it was checked here, and the citation of one that was not.
MEDMNIST_PLUS_CHECKED = ("checked against the authors' table assets/benchmark_results_{set}.png "
                         "(sdoerrich97/rethinking-model-prototyping-MedMNISTPlus)")
ISSUE_27 = "medbench issue 27 (as cited there; not checked against the paper here)"

#: MedMNIST+ best-ACC row per (scheme, resolution): (model, size, scheme, ACC, ACC sd, AUC, AUC sd), in %.
_PLUS_ROWS: dict[str, list[tuple[str, int, str, float, float | None, float | None, float | None]]] = {
    "pneumoniamnist": [
        ("AlexNet", 28, "end-to-end", 85.10, 0.73, 95.88, 0.42),
        ("VGG16", 64, "end-to-end", 89.26, 0.39, 98.69, 0.16),
        ("DINO ViT-B/16", 128, "end-to-end", 90.06, 0.65, 97.96, 0.71),
        ("ResNet-18", 224, "end-to-end", 91.13, 0.96, 98.04, 0.30),
        ("DINO ViT-B/16", 28, "linear probe", 86.59, 0.54, 97.29, 0.07),
        ("DINO ViT-B/16", 64, "linear probe", 86.43, 0.65, 97.56, 0.10),
        ("DINO ViT-B/16", 128, "linear probe", 90.33, 0.15, 98.89, 0.03),
        ("DINO ViT-B/16", 224, "linear probe", 91.56, 0.27, 98.92, 0.08),
        ("DINO ViT-B/16", 28, "kNN (k = 11)", 85.74, None, None, None),
        ("DINO ViT-B/16", 64, "kNN (k = 11)", 87.82, None, None, None),
        ("DINO ViT-B/16", 128, "kNN (k = 11)", 90.54, None, None, None),
        ("DINO ViT-B/16", 224, "kNN (k = 11)", 89.74, None, None, None),
    ],
    "breastmnist": [
        ("AlexNet", 28, "end-to-end", 86.54, 1.89, 89.08, 2.41),
        ("VGG16", 64, "end-to-end", 87.82, 2.09, 90.21, 0.48),
        ("AlexNet", 128, "end-to-end", 90.60, 1.09, 93.97, 1.36),
        ("AlexNet", 224, "end-to-end", 88.46, 0.52, 93.86, 0.48),
        ("DINO ViT-B/16", 28, "linear probe", 83.33, 0.52, 86.77, 0.44),
        ("DINO ViT-B/16", 64, "linear probe", 85.68, 0.60, 91.70, 0.27),
        ("DINO ViT-B/16", 128, "linear probe", 88.89, 0.80, 93.25, 0.89),
        ("DINO ViT-B/16", 224, "linear probe", 88.68, 1.09, 93.43, 0.82),
        ("EfficientNet-B4", 28, "kNN (k = 11)", 83.33, None, None, None),
        ("DINO ViT-B/16", 64, "kNN (k = 11)", 86.54, None, None, None),
        ("ResNet-18", 128, "kNN (k = 11)", 85.90, None, None, None),
        ("DINO ViT-B/16", 224, "kNN (k = 11)", 87.18, None, None, None),
    ],
}

#: Kermany 2018 on its 624-image test set (%); sensitivity / specificity beside ACC and AUC.
KERMANY_TEST_COUNTS = {"normal": 234, "pneumonia": 390}
_KERMANY_ROWS = [
    {"model": "InceptionV3", "input_size": None, "scheme": "transfer learning", "accuracy": 92.8,
     "roc_auc": 96.8, "sensitivity": 93.2, "specificity": 90.1, "seeds": 1, "protocol": "kermany-2018",
     "source": "Kermany 2018", "checked": False, "checked_note": ISSUE_27},
]


def _v2_rows(name: str) -> list[dict[str, Any]]:
    facts = info.MEDMNIST[name]
    return [{"model": model, "input_size": 224 if "(224)" in model else 28, "scheme": "MedMNIST v2 benchmark",
             "accuracy": round(v["accuracy"] * 100, 1), "roc_auc": round(v["roc_auc"] * 100, 1), "seeds": 1,
             "protocol": "medmnist-v2", "source": "MedMNIST v2, Table 3", "checked": True,
             "checked_note": "as recorded in medbench.datasets.info" + (f"; {facts['published_note']}"
                                                                        if facts.get("published_note") else "")}
            for model, v in facts["published"].items()]


def _plus_rows(name: str) -> list[dict[str, Any]]:
    return [{"model": m, "input_size": size, "scheme": scheme, "accuracy": acc, "accuracy_sd": acc_sd,
             "roc_auc": auc, "roc_auc_sd": auc_sd, "seeds": 1 if acc_sd is None else 3, "protocol": "medmnist-plus",
             "source": "MedMNIST+ (Doerrich 2025)", "checked": True,
             "checked_note": MEDMNIST_PLUS_CHECKED.format(set=name)}
            for m, size, scheme, acc, acc_sd, auc, auc_sd in _PLUS_ROWS.get(name, [])]


def _is_kermany_test(dataset: dict[str, Any]) -> bool:
    test = (dataset.get("official_split_counts") or {}).get("test") or {}
    return {str(k).lower(): v for k, v in test.items()} == KERMANY_TEST_COUNTS


def published_for(dataset: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """``(test set title, rows)`` for a run's dataset card, or ``("", [])`` when nothing is published for it.
    Figures are in percent; ``*_sd`` is ``None`` where no sd was reported."""
    name, url = dataset.get("name"), str((dataset.get("source") or {}).get("url", ""))
    if name in info.MEDMNIST and url.startswith(info.MEDMNIST_URL):
        n = info.MEDMNIST[name]["n_samples"]["test"]
        return f"{info.MEDMNIST[name]['title']} official test split ({n} images)", _v2_rows(name) + _plus_rows(name)
    if _is_kermany_test(dataset):
        return "Kermany et al. 2018 chest X-ray official test folder (624 images)", [dict(r) for r in _KERMANY_ROWS]
    return "", []
