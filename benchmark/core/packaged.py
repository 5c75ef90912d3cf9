"""The baselines and suite files that ship with medbench (package data), found by name from any directory.

An installed wheel holds them as ``medbench/_baselines/<name>/`` and ``medbench/_suites/<name>.toml``
(pyproject.toml maps the repository's ``baselines/`` and ``suites/`` folders there); a source checkout
(an editable install, tox) reads the same folders beside ``benchmark/``. The user's own baseline store
(``$MEDBENCH_BASELINES`` or ``./baselines``) and explicit paths come first: see medbench.stores.baseline.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]

#: kind -> (folder inside the installed package, folder beside the package in a checkout)
FOLDERS = {
    "baselines": ("_baselines", "baselines"),
    "suites": ("_suites", "suites"),
}


def folder(kind: str) -> Path | None:
    """The folder of shipped ``kind`` ("baselines" or "suites"), or None when this install has none."""
    installed, checkout = FOLDERS[kind]
    for candidate in (PACKAGE / installed, PACKAGE.parent / checkout):
        if candidate.is_dir():
            return candidate
    return None


def baseline_names() -> list[str]:
    root = folder("baselines")
    return sorted(p.parent.name for p in root.glob("*/results.json")) if root else []


def suite_names() -> list[str]:
    root = folder("suites")
    return sorted(p.stem for p in root.glob("*.toml")) if root else []


def baseline(name: str) -> Path | None:
    """The shipped baseline folder called ``name``, or None."""
    return folder("baselines") / name if name in baseline_names() else None


def suite(name: str) -> Path | None:
    """The shipped suite file called ``name`` (``chest-xray`` or ``chest-xray.toml``), or None."""
    stem = name[:-5] if name.endswith(".toml") else name
    return folder("suites") / f"{stem}.toml" if stem in suite_names() else None
