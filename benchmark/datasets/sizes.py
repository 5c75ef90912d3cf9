"""MedMNIST+ (MedMNIST v3) larger sizes of the 2D sets: ``pneumoniamnist@64``, ``@128``, ``@224``.

Data only: for every 2D set medbench loads (``info.MEDMNIST``), the MD5 of its 64, 128 and 224 px file as
the ``medmnist`` package v3.0.2 lists them (``medmnist/info.py``, ``INFO[name]["MD5_64"]`` etc.; the
files are on Zenodo record 10519652 beside the 28 px ones). A size not listed here has no known MD5 and
is refused (:func:`size_facts`), never downloaded unchecked. The split sizes and labels are the 28 px
file's (the same images at another resolution).
"""

from __future__ import annotations

from typing import Any

from medbench.core.errors import MedbenchError
from medbench.datasets import info

#: ``{name: {size: md5}}`` from ``medmnist`` 3.0.2 ``INFO`` (``MD5_64``, ``MD5_128``, ``MD5_224``).
MEDMNIST_PLUS_MD5 = {
    "pathmnist": {64: "55aa9c1e0525abe5a6b9d8343a507616", 128: "ac42d08fb904d92c244187169d1fd1d9",
                  224: "2c51a510bcdc9cf8ddb2af93af1eadec"},
    "dermamnist": {64: "b70a2f5635c6199aeaa28c31d7202e1f", 128: "2defd784463fa5243564e855ed717de1",
                   224: "8974907d8e169bef5f5b96bc506ae45d"},
    "octmnist": {64: "e229e9440236b774d9f0dfef9d07bdaf", 128: "0a97e76651ace45c5d943ee3f65b63ae",
                 224: "abc493b6d529d5de7569faaef2773ba3"},
    "pneumoniamnist": {64: "8f4eceb4ccffa70c672198ea285246c6", 128: "05b46931834c231683c68f40c47b2971",
                       224: "d6a3c71de1b945ea11211b03746c1fe1"},
    "retinamnist": {64: "afda852cc34dcda56f86ad2b2457dbcc", 128: "e48e916a24454daf90583d4e6efb1a18",
                    224: "eae7e3b6f3fcbda4ae613ebdcbe35348"},
    "breastmnist": {64: "742edef2a1fd1524b2efff4bd7ba9364", 128: "363e4b3f8d712e9b5de15470a2aaadf1",
                    224: "b56378a6eefa9fed602bb16d192d4c8b"},
    "bloodmnist": {64: "2b94928a2ae4916078ca51e05b6b800b", 128: "adace1e0ed228fccda1f39692059dd4c",
                   224: "b718ff6835fcbdb22ba9eacccd7b2601"},
    "tissuemnist": {64: "123ece2eba09d0aa5d698fda57103344", 128: "61b955355d7425a89687b06cca3ce0c2",
                    224: "b077128c4a949f0a4eb01517f9037b9c"},
    "organamnist": {64: "2dcccc29b88e6da5a01161ef20cda288", 128: "eeae80d0a227a8d099027e1b3cfd3b60",
                    224: "50747347e05c87dd3aaf92c49f9f3170"},
    "organcmnist": {64: "3ce34a8724ea6f548e6db4744d03b6a9", 128: "773c1f009daa3fe5d9a2a201b2a7ed94",
                    224: "050f5e875dc056f6768abf94ec9995d1"},
    "organsmnist": {64: "53a6d115339d874c25e309a994ff46d3", 128: "ded0c5fa01a95dc4978b956f613e9b8e",
                    224: "b354719e553fbbb2513d5533f52a4cb1"},
}
#: The file name of a size (``pneumoniamnist_224.npz``); the URL is the 28 px file's record.
FILE_PATTERN = "{name}_{size}.npz"
SIZES = (64, 128, 224)


def split_name(kind: str) -> tuple[str, int | None]:
    """``"pneumoniamnist@224"`` -> ``("pneumoniamnist", 224)``; ``"pneumoniamnist"`` -> ``(..., None)``.
    A size that is not a whole number is a one-line error."""
    name, at, size = kind.partition("@")
    if not at:
        return name, None
    if not size.isdigit():
        raise MedbenchError(f"dataset {kind!r}: the size after @ must be a number of pixels "
                            f"({', '.join(f'{name}@{s}' for s in SIZES)})")
    return name, int(size)


def size_facts(name: str, size: int | None) -> dict[str, Any]:
    """The facts of set ``name`` at ``size`` px: ``info.MEDMNIST[name]`` with this size's file, URL, MD5 and
    ``image_size``. 28 (or ``None``) is the v2 file; a size with no recorded MD5 is refused."""
    facts = dict(info.MEDMNIST[name])
    if size in (None, facts["image_size"]):
        return facts
    md5 = MEDMNIST_PLUS_MD5.get(name, {}).get(size)
    if md5 is None:
        known = ", ".join(f"{name}@{s}" for s in sorted(MEDMNIST_PLUS_MD5.get(name, {})))
        raise MedbenchError(f"dataset {name}@{size}: MedMNIST+ publishes no {size} px file of {name} with a known "
                            f"MD5; use {name} (28 px){', ' + known if known else ''}")
    file = FILE_PATTERN.format(name=name, size=size)
    return facts | {"file": file, "url": info.MEDMNIST_URL + file + "?download=1", "md5": md5,
                    "image_size": size, "title": facts["title"].replace("(MedMNIST v2)", f"(MedMNIST+ {size} px)")}
