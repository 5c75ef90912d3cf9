"""Declarative facts about the MedMNIST sets medbench knows by name (like MedMNIST's ``info.py``).

Nothing here is logic: URLs, checksums, split sizes, label names, published results and licences are
data, read by the MedMNIST loader and shown by ``medbench datasets``. The kinds that take a path
(``folder``, ``npz``, ``coronahack``) keep their facts in their own modules.
"""

#: MedMNIST v2 (Yang et al., Scientific Data 2023) 2D datasets at 28 x 28, as the official ``medmnist``
#: package (v3.0.2, ``medmnist/info.py``) lists them: file, URL (Zenodo record 10519652), MD5, split
#: sizes, label names and MedMNIST's own task. ``channels`` is the source's: ``rgb`` sets keep their
#: colour under ``--channels auto``. ``published``: test ACC / AUC on the official split from the
#: MedMNIST v2 paper, Table 3 (five of its seven methods).
MEDMNIST_URL = "https://zenodo.org/records/10519652/files/"
MEDMNIST_CITATION = "Yang et al., MedMNIST v2, Scientific Data 2023"
#: The Organ{A,C,S}MNIST files were re-issued in MedMNIST 2.2.4 / 3.0 with blank images removed; the
#: paper's figures were measured on the earlier files (Zenodo record 6496656), a few dozen images larger.
ORGAN_NOTE = ("published figures were measured on the MedMNIST v2 release of this set (Zenodo record 6496656), "
              "which also held the blank images removed in MedMNIST 2.2.4; the current file is {delta} images "
              "smaller")
ORGAN_LABELS = ["bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right", "liver",
                "lung-left", "lung-right", "pancreas", "spleen"]


def _published(r18: tuple[float, float], r50: tuple[float, float], ask: tuple[float, float],
               ak: tuple[float, float], gav: tuple[float, float]) -> dict[str, dict[str, float]]:
    """The paper's rows as ``{method: {accuracy, roc_auc}}``; each argument is ``(ACC, AUC)``."""
    rows = {"ResNet-18 (28)": r18, "ResNet-50 (224)": r50, "auto-sklearn": ask, "AutoKeras": ak,
            "Google AutoML Vision": gav}
    return {k: {"accuracy": acc, "roc_auc": auc} for k, (acc, auc) in rows.items()}


MEDMNIST = {
    "pathmnist": {
        "title": "PathMNIST (MedMNIST v2)",
        "description": "Colorectal cancer histology patches (NCT-CRC-HE-100K; test: CRC-VAL-HE-7K, another "
        "centre), H&E colour, 9 tissue types.",
        "file": "pathmnist.npz", "url": MEDMNIST_URL + "pathmnist.npz?download=1",
        "md5": "a8b06965200029087d5bd730944a56c1", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "rgb", "image_size": 28,
        "label_names": ["adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
                        "normal colon mucosa", "cancer-associated stroma", "colorectal adenocarcinoma epithelium"],
        "positive_class": None,
        "n_samples": {"train": 89996, "val": 10004, "test": 7180},
        "published": _published((0.907, 0.983), (0.892, 0.989), (0.716, 0.934), (0.834, 0.959), (0.728, 0.944)),
    },
    "dermamnist": {
        "title": "DermaMNIST (MedMNIST v2)",
        "description": "Dermatoscopic images of pigmented skin lesions (HAM10000), colour, 7 diagnoses.",
        "file": "dermamnist.npz", "url": MEDMNIST_URL + "dermamnist.npz?download=1",
        "md5": "0744692d530f8e62ec473284d019b0c7", "licence": "CC BY-NC 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "rgb", "image_size": 28,
        "label_names": ["actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                        "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
                        "vascular lesions"],
        "positive_class": None,
        "n_samples": {"train": 7007, "val": 1003, "test": 2005},
        "published": _published((0.735, 0.917), (0.731, 0.912), (0.719, 0.902), (0.749, 0.915), (0.768, 0.914)),
    },
    "octmnist": {
        "title": "OCTMNIST (MedMNIST v2)",
        "description": "Retinal optical coherence tomography scans, gray, 4 diagnoses.",
        "file": "octmnist.npz", "url": MEDMNIST_URL + "octmnist.npz?download=1",
        "md5": "c68d92d5b585d8d81f7112f81e2d0842", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "gray", "image_size": 28,
        "label_names": ["choroidal neovascularization", "diabetic macular edema", "drusen", "normal"],
        "positive_class": None,
        "n_samples": {"train": 97477, "val": 10832, "test": 1000},
        "published": _published((0.743, 0.943), (0.776, 0.958), (0.601, 0.887), (0.763, 0.955), (0.771, 0.963)),
    },
    "pneumoniamnist": {
        "title": "PneumoniaMNIST (MedMNIST v2)",
        "description": "Pediatric chest X-rays (Kermany et al. 2018) resized to 28x28, normal vs pneumonia.",
        "file": "pneumoniamnist.npz", "url": MEDMNIST_URL + "pneumoniamnist.npz?download=1",
        "md5": "28209eda62fecd6e6a2d98b1501bb15f", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "binary", "medmnist_task": "binary-class", "channels": "gray", "image_size": 28,
        "label_names": ["normal", "pneumonia"],
        "positive_class": "pneumonia",
        "n_samples": {"train": 4708, "val": 524, "test": 624},
        "published": _published((0.854, 0.944), (0.884, 0.962), (0.855, 0.942), (0.878, 0.947), (0.946, 0.991)),
    },
    "retinamnist": {
        "title": "RetinaMNIST (MedMNIST v2)",
        "description": "Retina fundus photographs (DeepDRiD), colour, diabetic retinopathy grade 0-4. MedMNIST "
        "poses it as ordinal regression; medbench scores it as 5-class classification (grade order unused).",
        "file": "retinamnist.npz", "url": MEDMNIST_URL + "retinamnist.npz?download=1",
        "md5": "bd4c0672f1bba3e3a89f0e4e876791e4", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "ordinal-regression", "channels": "rgb", "image_size": 28,
        "label_names": ["0", "1", "2", "3", "4"],
        "positive_class": None,
        "n_samples": {"train": 1080, "val": 120, "test": 400},
        "published": _published((0.524, 0.717), (0.511, 0.716), (0.515, 0.690), (0.503, 0.719), (0.531, 0.750)),
    },
    "breastmnist": {
        "title": "BreastMNIST (MedMNIST v2)",
        "description": "Breast ultrasound, gray, malignant vs normal-or-benign (MedMNIST merges normal and benign).",
        "file": "breastmnist.npz", "url": MEDMNIST_URL + "breastmnist.npz?download=1",
        "md5": "750601b1f35ba3300ea97c75c52ff8f6", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "binary", "medmnist_task": "binary-class", "channels": "gray", "image_size": 28,
        "label_names": ["malignant", "normal, benign"],
        "positive_class": "malignant",
        "n_samples": {"train": 546, "val": 78, "test": 156},
        "published": _published((0.863, 0.901), (0.842, 0.866), (0.803, 0.836), (0.831, 0.871), (0.861, 0.919)),
    },
    "bloodmnist": {
        "title": "BloodMNIST (MedMNIST v2)",
        "description": "Blood cell microscopy (normal cells), colour, 8 cell types.",
        "file": "bloodmnist.npz", "url": MEDMNIST_URL + "bloodmnist.npz?download=1",
        "md5": "7053d0359d879ad8a5505303e11de1dc", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "rgb", "image_size": 28,
        "label_names": ["basophil", "eosinophil", "erythroblast",
                        "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)", "lymphocyte",
                        "monocyte", "neutrophil", "platelet"],
        "positive_class": None,
        "n_samples": {"train": 11959, "val": 1712, "test": 3421},
        "published": _published((0.958, 0.998), (0.950, 0.997), (0.878, 0.984), (0.961, 0.998), (0.966, 0.998)),
    },
    "tissuemnist": {
        "title": "TissueMNIST (MedMNIST v2)",
        "description": "Kidney cortex cells (BBBC051), gray (maximum projection of 7 slices), 8 cell types.",
        "file": "tissuemnist.npz", "url": MEDMNIST_URL + "tissuemnist.npz?download=1",
        "md5": "ebe78ee8b05294063de985d821c1c34b", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "gray", "image_size": 28,
        "label_names": ["Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule",
                        "Glomerular endothelial cells", "Interstitial endothelial cells", "Leukocytes", "Podocytes",
                        "Proximal Tubule Segments", "Thick Ascending Limb"],
        "positive_class": None,
        "n_samples": {"train": 165466, "val": 23640, "test": 47280},
        "published": _published((0.676, 0.930), (0.680, 0.932), (0.532, 0.828), (0.703, 0.941), (0.673, 0.924)),
    },
    "organamnist": {
        "title": "OrganAMNIST (MedMNIST v2)",
        "description": "Abdominal CT (LiTS), axial slices through organ bounding boxes, gray, 11 organs.",
        "file": "organamnist.npz", "url": MEDMNIST_URL + "organamnist.npz?download=1",
        "md5": "68e3f8846a6bd62f0c9bf841c0d9eacc", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "gray", "image_size": 28,
        "label_names": ORGAN_LABELS,
        "positive_class": None,
        "n_samples": {"train": 34561, "val": 6491, "test": 17778},
        "published": _published((0.935, 0.997), (0.947, 0.998), (0.762, 0.963), (0.905, 0.994), (0.886, 0.990)),
        "published_note": ORGAN_NOTE.format(delta=20),
    },
    "organcmnist": {
        "title": "OrganCMNIST (MedMNIST v2)",
        "description": "Abdominal CT (LiTS), coronal slices through organ bounding boxes, gray, 11 organs.",
        "file": "organcmnist.npz", "url": MEDMNIST_URL + "organcmnist.npz?download=1",
        "md5": "b9ceb9546e10131b32923c5bbeaea2b1", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "gray", "image_size": 28,
        "label_names": ORGAN_LABELS,
        "positive_class": None,
        "n_samples": {"train": 12975, "val": 2392, "test": 8216},
        "published": _published((0.900, 0.992), (0.911, 0.993), (0.829, 0.976), (0.879, 0.990), (0.877, 0.988)),
        "published_note": ORGAN_NOTE.format(delta=77),
    },
    "organsmnist": {
        "title": "OrganSMNIST (MedMNIST v2)",
        "description": "Abdominal CT (LiTS), sagittal slices through organ bounding boxes, gray, 11 organs.",
        "file": "organsmnist.npz", "url": MEDMNIST_URL + "organsmnist.npz?download=1",
        "md5": "9ab87b696fb54e2a387ebe992d6ed5f1", "licence": "CC BY 4.0", "citation": MEDMNIST_CITATION,
        "task": "multiclass", "medmnist_task": "multi-class", "channels": "gray", "image_size": 28,
        "label_names": ORGAN_LABELS,
        "positive_class": None,
        "n_samples": {"train": 13932, "val": 2452, "test": 8827},
        "published": _published((0.782, 0.972), (0.785, 0.975), (0.672, 0.945), (0.813, 0.974), (0.749, 0.964)),
        "published_note": ORGAN_NOTE.format(delta=10),
    },
}

#: MedMNIST 2D sets medbench does not load, and why (shown by ``medbench datasets``).
MEDMNIST_EXCLUDED = {
    "chestmnist": "ChestMNIST is multi-label (14 findings per image, several at once); medbench scores "
    "single-label classification only, so it is not offered",
}
