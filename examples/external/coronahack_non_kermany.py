"""Assemble the CoronaHack images that are not Kermany's own as a one-class external set (symbolic links).

CoronaHack (Kaggle "CoronaHack Chest X-Ray Dataset") reuses the Kermany et al. (2018) images and adds COVID-19,
SARS, ARDS and Streptococcus images from other sources (papers, Radiopaedia). In the shared copy the Kermany
images are 224x224 and the others keep their original sizes, so "not 224x224 and labelled pneumonia" selects
the 66 others (one more non-Kermany image is labelled Normal: a single negative says nothing, so it is left out).

    python examples/external/coronahack_non_kermany.py ../shared/datasets/coronahack /tmp/ch-external
    medbench run --dataset folder:../shared/datasets/chest_xray --image-size 64 --external folder:/tmp/ch-external

The result is OUT/PNEUMONIA/<file> (links), which `medbench run --external folder:OUT` reads as a positives-only
set matched to the dataset's PNEUMONIA class.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from PIL import Image

KERMANY_SIZE = (224, 224)


def main(root: str, out: str) -> int:
    root_p, out_p = Path(root), Path(out) / "PNEUMONIA"
    images = root_p / "Coronahack-Chest-XRay-Dataset" / "Coronahack-Chest-XRay-Dataset"
    out_p.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(root_p / "Chest_xray_Corona_Metadata.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = images / ("train" if row["Dataset_type"] == "TRAIN" else "test") / row["X_ray_image_name"]
            if row["Label"] == "Normal" or not path.is_file():
                continue
            with Image.open(path) as im:
                if im.size == KERMANY_SIZE:
                    continue
            link = out_p / path.name
            if not link.exists():
                link.symlink_to(path.resolve())
            n += 1
    print(f"{n} non-Kermany pneumonia images linked under {out_p}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
