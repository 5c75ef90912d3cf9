"""MedMNIST-C's corruption presets and AlexNet reference errors, as data (``--robustness medmnist-c``).

Source: Di Salvo, Doerrich, Ledig, "MedMNIST-C: Comprehensive benchmark and improved classifier robustness by
simulating realistic image corruptions" (2024, arXiv:2406.17536), and its package ``medmnistc`` 0.1.0
(PyPI; repository github.com/francescodisalvo05/medmnistc-api at commit
8acfd2710c6e0e8b2745be8b1fa1c17b94b8f8a7; the wheel's files are identical to that commit's):

* :data:`PRESETS` - ``medmnistc/corruptions/registry.py``, ``CORRUPTIONS_DS``: per dataset, each corruption and
  its parameter at severities 1..5 (the package indexes its list with severity 0..4, so where a list holds six
  values - PneumoniaMNIST's ``gaussian_blur`` ``[3, 5, 7, 9, 11, 13]`` - the sixth is never used and is left out);
* :data:`ALEXNET` - ``medmnistc/utils/baselines.py``, ``BASELINES``: AlexNet's clean balanced error and its
  balanced error per corruption, mean over the 5 severities (the denominators of BE and rBE, ``medmnistc/eval.py``).

Only the datasets whose every corruption medbench implements (:mod:`medbench.shift.medmnistc_kinds`) are here:
PneumoniaMNIST, TissueMNIST and OrganA/C/SMNIST (all grayscale). BreastMNIST and OCTMNIST need motion / defocus
blur (ImageMagick's motion blur), the RGB sets saturation and microscopy artefacts, ChestMNIST is multi-label:
none of them has a preset yet. MedMNIST-C corrupts the 224 px images; medbench corrupts the images at the run's
working size (``--image-size``) with the parameters exactly as defined here (see docs/robustness.md).
"""

from __future__ import annotations

__all__ = ["ALEXNET", "CITATION", "KINDS", "PRESETS", "SOURCE"]

CITATION = ("Di Salvo F, Doerrich S, Ledig C. MedMNIST-C: Comprehensive benchmark and improved classifier "
            "robustness by simulating realistic image corruptions. arXiv:2406.17536, 2024")
SOURCE = ("medmnistc 0.1.0, github.com/francescodisalvo05/medmnistc-api@8acfd2710c6e0e8b2745be8b1fa1c17b94b8f8a7: "
          "corruptions/registry.py (parameters), utils/baselines.py (AlexNet errors)")

#: MedMNIST-C's corruption name -> the medbench corruption kind that applies it (medbench.shift.medmnistc_kinds).
KINDS = {
    "pixelate": "mmc_pixelate",
    "jpeg_compression": "mmc_jpeg",
    "gaussian_noise": "mmc_gaussian_noise",
    "speckle_noise": "mmc_speckle_noise",
    "impulse_noise": "mmc_impulse_noise",
    "shot_noise": "mmc_shot_noise",
    "gaussian_blur": "mmc_gaussian_blur",
    "brightness_up": "mmc_brightness",
    "brightness_down": "mmc_brightness",
    "contrast_up": "mmc_contrast",
    "contrast_down": "mmc_contrast",
    "gamma_corr_up": "mmc_gamma",
    "gamma_corr_down": "mmc_gamma",
}

_ORGAN = {
    "pixelate": (0.7, 0.6, 0.5, 0.40, 0.35),
    "jpeg_compression": (50, 30, 15, 10, 7),
    "gaussian_noise": (0.04, 0.08, 0.12, 0.16, 0.20),
    "speckle_noise": (0.05, 0.10, 0.20, 0.30, 0.40),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.08),
    "shot_noise": (200, 100, 50, 25, 15),
    "gaussian_blur": (11, 13, 15, 17, 21),
    "brightness_up": (1.2, 1.3, 1.4, 1.5, 1.6),
    "brightness_down": (0.8, 0.75, 0.7, 0.65, 0.60),
    "contrast_up": (1.3, 1.4, 1.6, 1.7, 1.8),
    "contrast_down": (0.8, 0.7, 0.6, 0.55, 0.5),
    "gamma_corr_up": (1.3, 1.4, 1.6, 1.8, 2.0),
    "gamma_corr_down": (0.9, 0.8, 0.7, 0.6, 0.4),
}

#: dataset -> {MedMNIST-C corruption: its parameter at severities 1..5}, in the package's order.
PRESETS: dict[str, dict[str, tuple[float, ...]]] = {
    "pneumoniamnist": {
        "pixelate": (0.8, 0.7, 0.6, 0.5, 0.40),
        "jpeg_compression": (50, 30, 15, 10, 7),
        "gaussian_noise": (0.04, 0.05, 0.06, 0.07, 0.08),
        "speckle_noise": (0.05, 0.07, 0.10, 0.15, 0.20),
        "impulse_noise": (0.005, 0.01, 0.013, 0.017, 0.02),
        "shot_noise": (300, 200, 150, 100, 80),
        "gaussian_blur": (3, 5, 7, 9, 11),
        "brightness_up": (1.1, 1.2, 1.3, 1.4, 1.5),
        "brightness_down": (0.9, 0.8, 0.7, 0.6, 0.5),
        "contrast_up": (1.1, 1.2, 1.3, 1.4, 1.6),
        "contrast_down": (0.9, 0.8, 0.7, 0.6, 0.4),
        "gamma_corr_up": (1.1, 1.2, 1.3, 1.4, 1.6),
        "gamma_corr_down": (0.9, 0.8, 0.7, 0.6, 0.4),
    },
    "tissuemnist": {
        "pixelate": (0.40, 0.30, 0.20, 0.15, 0.10),
        "jpeg_compression": (25, 20, 15, 10, 7),
        "impulse_noise": (0.01, 0.015, 0.02, 0.025, 0.03),
        "gaussian_blur": (13, 15, 17, 21, 25),
        "brightness_up": (1.3, 1.4, 1.5, 1.6, 1.7),
        "brightness_down": (0.8, 0.7, 0.6, 0.5, 0.4),
        "contrast_up": (1.1, 1.2, 1.3, 1.4, 1.6),
        "contrast_down": (0.9, 0.8, 0.7, 0.6, 0.4),
    },
    "organamnist": dict(_ORGAN),
    "organcmnist": dict(_ORGAN),
    "organsmnist": dict(_ORGAN),
}

#: dataset -> AlexNet's balanced error (1 - balanced accuracy) on the clean 224 px test split ("clean") and per
#: corruption, mean over the 5 severities ("errors").
ALEXNET: dict[str, dict[str, object]] = {
    "pneumoniamnist": {"clean": 0.10085470085470083, "errors": {
        "pixelate": 0.22102564102564104, "jpeg_compression": 0.2798290598290598,
        "gaussian_noise": 0.4414529914529915, "speckle_noise": 0.3457264957264957,
        "impulse_noise": 0.4581196581196581, "shot_noise": 0.4106837606837607,
        "gaussian_blur": 0.2730769230769231, "brightness_up": 0.14649572649572645,
        "brightness_down": 0.2782051282051282, "contrast_up": 0.09529914529914527,
        "contrast_down": 0.23743589743589744, "gamma_corr_up": 0.09606837606837607,
        "gamma_corr_down": 0.16641025641025642}},
    "tissuemnist": {"clean": 0.3917787199385978, "errors": {
        "pixelate": 0.49272908707597907, "jpeg_compression": 0.508070087070269,
        "impulse_noise": 0.7970869222746931, "gaussian_blur": 0.4805143361974326,
        "brightness_up": 0.4618274173802247, "brightness_down": 0.51981943234386,
        "contrast_up": 0.5026233641102424, "contrast_down": 0.5369342652194591}},
    "organamnist": {"clean": 0.050053710403475504, "errors": {
        "pixelate": 0.07589728744538755, "jpeg_compression": 0.10233182799848468,
        "gaussian_noise": 0.558867512509986, "speckle_noise": 0.5008977196696448,
        "impulse_noise": 0.6005122792556206, "shot_noise": 0.5704549211261293,
        "gaussian_blur": 0.23340661727240267, "brightness_up": 0.14763547790322412,
        "brightness_down": 0.2646445055204496, "contrast_up": 0.10977873034814234,
        "contrast_down": 0.1268424696095805, "gamma_corr_up": 0.10360009998047674,
        "gamma_corr_down": 0.10577092296366888}},
    "organcmnist": {"clean": 0.07596783210891289, "errors": {
        "pixelate": 0.12161270665759313, "jpeg_compression": 0.10754481922990186,
        "gaussian_noise": 0.5736544084235357, "speckle_noise": 0.5130960298987614,
        "impulse_noise": 0.5997780092763433, "shot_noise": 0.5492477253691926,
        "gaussian_blur": 0.316895537101905, "brightness_up": 0.16011849294420644,
        "brightness_down": 0.2324271692594097, "contrast_up": 0.09991836613387597,
        "contrast_down": 0.15327395964015147, "gamma_corr_up": 0.1426418229218433,
        "gamma_corr_down": 0.12390902424472901}},
    "organsmnist": {"clean": 0.24300485476777922, "errors": {
        "pixelate": 0.31259415418134306, "jpeg_compression": 0.26996994867350865,
        "gaussian_noise": 0.5889124203738291, "speckle_noise": 0.5450100158501043,
        "impulse_noise": 0.6010108858901404, "shot_noise": 0.5519125643755777,
        "gaussian_blur": 0.4466645657200248, "brightness_up": 0.3598501969979232,
        "brightness_down": 0.3592866403894267, "contrast_up": 0.2871702451645464,
        "contrast_down": 0.3128243336438499, "gamma_corr_up": 0.30253196514691594,
        "gamma_corr_down": 0.3116016263827458}},
}
