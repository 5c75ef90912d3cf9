"""Declarative facts about the datasets medbench knows by name (like MedMNIST's ``info.py``).

Nothing here is code: URLs, checksums, split sizes, label names, the CSV columns and values that make
each class of a task, and licences are data, read by the loaders and shown by ``medbench datasets``.
"""

MEDMNIST = {
    "pneumoniamnist": {
        "title": "PneumoniaMNIST (MedMNIST v2)",
        "description": "Pediatric chest X-rays (Kermany et al. 2018) resized to 28x28, normal vs pneumonia.",
        "file": "pneumoniamnist.npz",
        "url": "https://zenodo.org/records/10519652/files/pneumoniamnist.npz?download=1",
        "md5": "28209eda62fecd6e6a2d98b1501bb15f",
        "licence": "CC BY 4.0",
        "citation": "Yang et al., MedMNIST v2, Scientific Data 2023",
        "task": "binary",
        "label_names": ["normal", "pneumonia"],
        "positive_class": "pneumonia",
        "image_size": 28,
        "n_samples": {"train": 4708, "val": 524, "test": 624},
        # MedMNIST v2 paper, Table 3 (test ACC / AUC on this exact split).
        "published": {
            "ResNet-18 (28)": {"accuracy": 0.854, "roc_auc": 0.944},
            "ResNet-50 (224)": {"accuracy": 0.884, "roc_auc": 0.962},
            "auto-sklearn": {"accuracy": 0.855, "roc_auc": 0.942},
            "AutoKeras": {"accuracy": 0.878, "roc_auc": 0.947},
            "Google AutoML Vision": {"accuracy": 0.946, "roc_auc": 0.991},
        },
    },
}

# Dataset kinds that take a path: ``KIND:PATH``.
PATH_KINDS = {
    "folder": {
        "title": "Image folder",
        "description": "One sub-folder per class, optionally under train/ val/ test/ "
        "(e.g. the Kaggle chest-xray-pneumonia layout).",
        "usage": "folder:PATH",
    },
    "coronahack": {
        "title": "CoronaHack Chest X-Ray (Kaggle)",
        "description": "Chest_xray_Corona_Metadata.csv plus Coronahack-Chest-XRay-Dataset/{train,test}/.",
        "usage": "coronahack:PATH",
        "tasks": {
            "pneumonia": {
                "description": "normal vs pneumonia (column Label)",
                "column": "Label",
                "classes": {"normal": ["Normal"], "pneumonia": ["Pnemonia"]},
                "positive_class": "pneumonia",
            },
            "etiology": {
                "description": "normal (Label Normal) vs bacterial vs viral pneumonia (Label Pnemonia, column "
                "Label_1_Virus_category); rows that fit none of these (the 2 Stress-Smoking (ARDS) rows, a "
                "pneumonia row without a category) are excluded and counted",
                "column": "Label_1_Virus_category",
                "classes": {"normal": [""], "bacteria": ["bacteria"], "virus": ["Virus"]},
                # a row is of a class only if these other columns agree, too
                "requires": {"normal": {"Label": ["Normal"]}, "bacteria": {"Label": ["Pnemonia"]},
                             "virus": {"Label": ["Pnemonia"]}},
                "positive_class": None,
            },
        },
        "default_task": "pneumonia",
    },
}

DEFAULT_DATASET = "pneumoniamnist"
