"""The dataset audit (``medbench audit``, and the ``audit`` block of every ``medbench run``) on real chest X-ray
files copied, renamed or re-saved into temporary folders: patient groups from NIH ChestX-ray14 names, from
``--group-pattern`` and ``--groups CSV``; near-duplicates between a Kermany subset and CoronaHack's copies of
it (and ``--dedupe``); shortcuts by file format, size and colour; the schema of the block."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medbench.audit import phash as ph
from medbench.cli import main

CORONAHACK_IMAGES = Path("coronahack") / "Coronahack-Chest-XRay-Dataset" / "Coronahack-Chest-XRay-Dataset"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medbench: error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def _sources(chest_xray_dir: Path, cls: str, n: int) -> list[Path]:
    files = sorted((chest_xray_dir / "train" / cls).glob("*.jpeg"))[:n]
    if len(files) < n:
        pytest.skip(f"{chest_xray_dir} has too few {cls} images")
    return files


def _audit_json(capsys, tmp_path: Path, *argv: str) -> tuple[dict, str]:
    out = tmp_path / f"audit-{len(list(tmp_path.glob('audit-*.json')))}.json"
    code, text, err = _run(capsys, "audit", *argv, "--image-size", "32", "--n-jobs", "1", "--json", out)
    assert code == 0, err
    return json.loads(out.read_text()), text


# ---------------------------------------------------------------- patient groups


def _nih_folder(root: Path, chest_xray_dir: Path, per_class: int = 36, per_patient: int = 3) -> dict[str, str]:
    """Real chest_xray images saved as PNGs named like NIH ChestX-ray14 (``PPPPPPPP_FFF.png``), several per
    patient; returns {relative path: patient id}."""
    owner = {}
    for c, cls in enumerate(("NORMAL", "PNEUMONIA")):
        (root / cls).mkdir(parents=True)
        for k, src in enumerate(_sources(chest_xray_dir, cls, per_class)):
            patient = f"{c * 1000 + k // per_patient + 1:08d}"
            name = f"{patient}_{k % per_patient:03d}.png"
            with Image.open(src) as im:
                im.convert("L").save(root / cls / name)
            owner[f"{cls}/{name}"] = patient
    return owner


def test_run_on_nih_named_folder_keeps_each_patient_in_one_split(capsys, tmp_path, chest_xray_dir):
    owner = _nih_folder(tmp_path / "nih", chest_xray_dir)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{tmp_path / 'nih'}", "--pipelines", "majority",
                        "--image-size", "32", "--n-jobs", "1", "--no-gallery", "--out", out)
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    groups = results["audit"]["groups"]
    assert "nih-chestxray14" in groups["source"] and "nih-chestxray14" in results["dataset"]["group_source"]
    assert groups["grouped"] and groups["groups_in_several_splits"] == 0
    assert groups["n_groups"] == len(set(owner.values()))
    manifest = json.loads((out / "split.json").read_text())
    where: dict[str, set[str]] = {}
    for split, ids in manifest["ids"].items():
        for i in ids:
            where.setdefault(owner[i], set()).add(split)
    assert all(len(s) == 1 for s in where.values())
    assert {s for v in where.values() for s in v} == {"train", "val", "test"}
    report = (out / "report.md").read_text()
    assert "## Leakage and shortcuts" in report and "nih-chestxray14" in report
    assert set(results["audit"]) >= {"groups", "duplicates", "shortcuts"}


def _renamed_folder(root: Path, chest_xray_dir: Path, per_class: int = 30) -> dict[str, str]:
    """Real images renamed ``caseNNN-viewK.jpeg`` (no known naming scheme): {relative path: case}."""
    owner = {}
    for c, cls in enumerate(("NORMAL", "PNEUMONIA")):
        (root / cls).mkdir(parents=True)
        for k, src in enumerate(_sources(chest_xray_dir, cls, per_class)):
            case = f"case{c}{k // 3:03d}"
            name = f"{case}-view{k % 3}.jpeg"
            shutil.copy(src, root / cls / name)
            owner[f"{cls}/{name}"] = case
    return owner


def test_audit_without_a_scheme_says_patients_may_cross_and_user_groups_fix_it(capsys, tmp_path, chest_xray_dir):
    owner = _renamed_folder(tmp_path / "cases", chest_xray_dir)
    spec = f"folder:{tmp_path / 'cases'}"
    plain, text = _audit_json(capsys, tmp_path, spec)
    assert not plain["groups"]["grouped"] and plain["groups"]["source"].startswith("none")
    assert "patients may cross splits" in plain["groups"]["warning"] and "patients may cross splits" in text

    by_pattern, _ = _audit_json(capsys, tmp_path, spec, "--group-pattern", r"(case\d+)-view")
    assert by_pattern["groups"]["grouped"] and by_pattern["groups"]["source"].startswith("--group-pattern")
    assert by_pattern["groups"]["n_groups"] == len(set(owner.values()))
    assert by_pattern["groups"]["groups_in_several_splits"] == 0

    table = tmp_path / "groups.csv"
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "group"])
        w.writerows(sorted(owner.items()))
    by_csv, _ = _audit_json(capsys, tmp_path, spec, "--groups", table)
    assert by_csv["groups"]["source"] == "--groups groups.csv" and by_csv["groups"]["groups_in_several_splits"] == 0
    assert by_csv["groups"]["n_groups"] == len(set(owner.values()))

    out = tmp_path / "run"
    code, _, err = _run(capsys, "run", "--dataset", spec, "--groups", table, "--pipelines", "majority",
                        "--image-size", "32", "--n-jobs", "1", "--no-gallery", "--out", out)
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["group_source"] == "--groups groups.csv" and results["config"]["groups"] == str(table)
    assert results["audit"]["groups"]["groups_in_several_splits"] == 0
    manifest = json.loads((out / "split.json").read_text())
    sides = [{owner[i] for i in ids} for ids in manifest["ids"].values()]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])

    code, _, err = _run(capsys, "audit", spec, "--group-pattern", r"case\d+")
    _one_line_error(code, err, "--group-pattern", "capture group")
    code, _, err = _run(capsys, "run", "--dataset", spec, "--group-pattern", "(")
    _one_line_error(code, err, "--group-pattern")
    code, _, err = _run(capsys, "audit", spec, "--groups", tmp_path / "absent.csv")
    _one_line_error(code, err, "absent.csv")


# ---------------------------------------------------------------- near-duplicates


def test_phash_matches_copies_and_separates_different_images(chest_xray_dir):
    files = _sources(chest_xray_dir, "NORMAL", 20)
    with Image.open(files[0]) as im:
        gray = im.convert("L")
    original = np.asarray(gray)
    import io
    buf = io.BytesIO()
    gray.save(buf, "JPEG", quality=60)
    buf.seek(0)
    recoded = np.asarray(Image.open(buf).convert("L"))
    smaller = np.asarray(gray.resize((150, 150)).resize(original.shape[::-1]))
    others = np.stack([np.asarray(Image.open(f).convert("L").resize(original.shape[::-1])) for f in files[1:]])
    h = ph.phash(np.stack([original, recoded, smaller]))
    assert int(ph.hamming(h[0], h[1])) <= ph.HAMMING_THRESHOLD
    assert int(ph.hamming(h[0], h[2])) <= ph.HAMMING_THRESHOLD
    far = ph.hamming(h[0], ph.phash(others))
    assert int(far.min()) > ph.HAMMING_THRESHOLD


def _label_of_coronahack(shared: Path) -> dict[str, str]:
    with (shared / "coronahack" / "Chest_xray_Corona_Metadata.csv").open(newline="") as f:
        return {r["X_ray_image_name"]: r["Label"] for r in csv.DictReader(f)}


def test_kermany_subset_against_coronahack_copies_finds_them_and_dedupe_drops_them(capsys, tmp_path,
                                                                                     chest_xray_dir, shared_datasets):
    kermany = tmp_path / "kermany"
    chosen = {}
    for cls in ("NORMAL", "PNEUMONIA"):
        (kermany / cls).mkdir(parents=True)
        for src in _sources(chest_xray_dir, cls, 25):
            shutil.copy(src, kermany / cls / src.name)
            chosen[src.name] = cls
    hack_dir = shared_datasets / CORONAHACK_IMAGES / "train"
    labels = _label_of_coronahack(shared_datasets)
    hack = tmp_path / "hack"
    shared_names = sorted(n for n in chosen if (hack_dir / n).is_file())[::2]  # half of them, both classes
    extra = sorted(n for n, lab in labels.items() if n not in chosen and (hack_dir / n).is_file()
                   and n.startswith(("person", "IM-")))[:12]
    for name in shared_names + extra:
        cls = "NORMAL" if labels[name] == "Normal" else "PNEUMONIA"
        (hack / cls).mkdir(parents=True, exist_ok=True)
        shutil.copy(hack_dir / name, hack / cls / name)
    assert len(shared_names) >= 10 and {labels[n] for n in shared_names} == {"Normal", "Pnemonia"}

    block, text = _audit_json(capsys, tmp_path, f"folder:{kermany}", "--external", f"folder:{hack}")
    ext = block["duplicates"]["external"][0]
    assert ext["n"] == len(shared_names) + len(extra)
    assert ext["all"]["same_name"] == len(shared_names)
    assert ext["all"]["images"] >= len(shared_names)
    found = {Path(e["b"]).name for e in ext["all"]["examples"]}
    assert found <= set(shared_names) | set(extra)
    assert "near-duplicates" in text

    out = tmp_path / "run"
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{kermany}", "--external", f"folder:{hack}",
                        "--dedupe", "--pipelines", "majority", "--image-size", "32", "--n-jobs", "1",
                        "--no-gallery", "--out", out)
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    audit = results["audit"]
    leaks = audit["duplicates"]["external"][0]["leaks"]
    assert leaks >= 1
    removed = audit["dedupe"]["external"][0]
    assert removed["removed"] == leaks and removed["left"] == len(shared_names) + len(extra) - leaks
    assert all(Path(i).name in shared_names for i in removed["ids"])
    assert results["external"][0]["n"] == removed["left"]
    assert results["config"]["dedupe"] is True
    pictures = [x["thumbnail"] for x in audit["duplicates"]["external"][0]["all"]["examples"] if "thumbnail" in x]
    assert pictures and all((out / p).is_file() for p in pictures)
    with Image.open(out / pictures[0]) as im:
        assert im.format == "PNG" and im.width > im.height
    report = (out / "report.md").read_text()
    assert f"]({pictures[0]})" in report
    html = (out / "report.html").read_text()
    assert 'href="#leakage-and-shortcuts"' in html and 'id="leakage-and-shortcuts"' in html
    assert "--dedupe` removed" in report and "[Leakage and shortcuts](#leakage-and-shortcuts)" in report


# ---------------------------------------------------------------- shortcuts


def _save_classes(root: Path, chest_xray_dir: Path, how: dict[str, callable], n: int = 40) -> None:
    for cls, save in how.items():
        (root / cls).mkdir(parents=True)
        for k, src in enumerate(_sources(chest_xray_dir, cls, n)):
            with Image.open(src) as im:
                save(im.convert("RGB"), root / cls / f"img{k:03d}")


def _png(im, stem):
    im.save(stem.with_suffix(".png"))


def _jpeg(im, stem):
    im.save(stem.with_suffix(".jpeg"), quality=90)


def _bigger(im, stem):
    im.resize((320, 256)).save(stem.with_suffix(".jpeg"), quality=90)


def _tinted(im, stem):
    r, g, b = im.split()
    Image.merge("RGB", (r, g.point(lambda v: v * 0.85), b.point(lambda v: v * 0.7))).save(
        stem.with_suffix(".jpeg"), quality=90)


@pytest.mark.parametrize("how, properties", [
    ({"NORMAL": _png, "PNEUMONIA": _jpeg}, {"format"}),
    ({"NORMAL": _bigger, "PNEUMONIA": _jpeg}, {"width", "height", "aspect"}),
    ({"NORMAL": _tinted, "PNEUMONIA": _jpeg}, {"colour"}),
], ids=["format", "size", "colour"])
def test_classes_that_differ_by_a_file_property_are_flagged_by_that_property(capsys, tmp_path, chest_xray_dir,
                                                                              how, properties):
    _save_classes(tmp_path / "set", chest_xray_dir, how)
    block, text = _audit_json(capsys, tmp_path, f"folder:{tmp_path / 'set'}")
    clf = block["shortcuts"]["classifier"]
    assert clf["top_property"] in properties, clf
    assert clf["roc_auc_ci"][0] > 0.6 and clf["warning"]
    assert any("without the anatomy" in f for f in block["findings"])
    assert "FINDING" in text


def test_npz_dataset_says_file_properties_are_unknown(capsys, tmp_path, shared_datasets):
    src = shared_datasets / "pneumoniamnist.npz"
    if not src.is_file():
        pytest.skip(f"real data not found: {src}")
    with np.load(src) as d:
        small = {f"{s}_{k}": d[f"{s}_{k}"][:60] for s in ("train", "val", "test") for k in ("images", "labels")}
    np.savez(tmp_path / "small.npz", **small)
    block, _ = _audit_json(capsys, tmp_path, f"npz:{tmp_path / 'small.npz'}")
    assert "file format" in block["shortcuts"]["note"]
    assert set(block["shortcuts"]["per_class"]) == {"border_fraction"}


# ---------------------------------------------------------------- schema


def test_results_with_a_malformed_audit_block_are_refused(capsys, tmp_path, chest_xray_dir):
    _renamed_folder(tmp_path / "cases", chest_xray_dir, per_class=15)
    out = tmp_path / "out"
    code, _, err = _run(capsys, "run", "--dataset", f"folder:{tmp_path / 'cases'}", "--pipelines", "majority",
                        "--image-size", "32", "--n-jobs", "1", "--no-gallery", "--out", out)
    assert code == 0, err
    path = out / "results.json"
    good = json.loads(path.read_text())
    code, _, err = _run(capsys, "report", out)
    assert code == 0, err
    for breakage in ({"groups_in_several_splits": -1}, {"source": 3}):
        bad = json.loads(json.dumps(good))
        bad["audit"]["groups"].update(breakage)
        path.write_text(json.dumps(bad))
        code, _, err = _run(capsys, "report", out)
        _one_line_error(code, err, "audit.groups")
    bad = json.loads(json.dumps(good))
    del bad["audit"]["duplicates"]
    path.write_text(json.dumps(bad))
    code, _, err = _run(capsys, "report", out)
    _one_line_error(code, err, "duplicates")


def test_between_datasets_counts_the_shared_images_of_every_pair(tmp_path, chest_xray_dir):
    from medbench.audit.run import between_datasets, load_other

    files = _sources(chest_xray_dir, "NORMAL", 12)
    for name, chosen in (("a", files[:8]), ("b", files[4:]), ("c", files[:2])):
        (tmp_path / name / "NORMAL").mkdir(parents=True)
        for f in chosen:
            shutil.copy(f, tmp_path / name / "NORMAL" / f.name)
    sets = [load_other(f"folder:{tmp_path / n}", 32, n_jobs=1) for n in "abc"]
    pairs = {(p["a"][-1], p["b"][-1]): p for p in between_datasets(sets)}
    assert pairs[("a", "b")]["same_name"] == 4 and pairs[("a", "b")]["images"] >= 4
    assert pairs[("a", "c")]["same_name"] == 2
    assert pairs[("b", "c")]["same_name"] == 0
