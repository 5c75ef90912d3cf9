"""``medbench audit DATASET``: patient groups, near-duplicates and shortcuts, before any model is fitted."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medbench.audit import run as audit_run
from medbench.core.atomic import write_json

DESCRIPTION = """Audit a dataset the way `medbench run` does before fitting anything: which images share a
patient (naming schemes, --groups, --group-pattern) and whether patients cross the splits; near-duplicate
images (a DCT perceptual hash) within and across train/val/test and against every --external set; and
shortcuts - properties other than the anatomy (file format, size, aspect, colour, bit depth, borders) that
tell the classes apart, scored by a metadata-only classifier. The split is the one `medbench run` would make
with the same options. See docs/audit.md."""
EPILOG = """examples:
  medbench audit folder:data/chest_xray --external coronahack:data/coronahack --json audit.json
  medbench audit folder:data/nih --group-pattern '^(\\d{8})_'
exit status: 0 (the findings are printed and written, not judged), 2 on bad input."""


def add_audit_options(parser: argparse.ArgumentParser) -> None:
    """``--groups`` and ``--group-pattern`` (``run`` and ``audit``; see :mod:`medbench.audit.groups`)."""
    parser.add_argument("--groups", metavar="CSV",
                        help="patient groups: a CSV with columns path,group (image path relative to the dataset "
                             "folder -> patient id); splits keep a patient's images together")
    parser.add_argument("--group-pattern", metavar="REGEX",
                        help="patient groups: a regular expression with one capture group, searched in each image's "
                             "relative path (e.g. '^(\\d{8})_' for NIH ChestX-ray14 names)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="check a dataset for patient leakage, near-duplicates and shortcuts",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("dataset", help="a dataset spec, as for `medbench run --dataset`")
    p.add_argument("--external", action="append", default=[], metavar="DATASET",
                   help="another set to compare pixel by pixel (repeatable)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the audit document (results.json's audit block)")
    p.add_argument("--task", help="labelling for datasets with several (coronahack: pneumonia, etiology)")
    p.add_argument("--image-size", type=int, default=None, help="side length path datasets are decoded to")
    p.add_argument("--allow-missing", action="store_true", help="go on without missing or unreadable image files")
    p.add_argument("--split-seed", type=int, default=0, help="seed for any split carved by medbench")
    p.add_argument("--val-fraction", type=float, default=0.1, help="validation share carved from train when needed")
    p.add_argument("--test-fraction", type=float, default=0.2, help="test share when the dataset has no split")
    p.add_argument("--n-jobs", type=int, default=-1, help="threads that decode images (-1: all cores)")
    add_audit_options(p)
    p.set_defaults(handler=cmd_audit)


def text_report(block: dict) -> str:
    g, d, s = block["groups"], block["duplicates"], block["shortcuts"]
    lines = [f"audit of {block['dataset']} ({block['seconds']:.1f}s)",
             f"patient groups: {g['source']}; {g['n_groups']} groups, {g['groups_in_several_splits']} in more than "
             "one split"]
    for pair, e in d["across"].items():
        lines.append(f"near-duplicates {pair}: {e['pairs']} pairs ({e['images']} images)")
    for s_name, e in d["within"].items():
        lines.append(f"near-duplicates within {s_name}: {e['pairs']} pairs")
    for ext in d["external"]:
        lines.append(f"near-duplicates with {ext['dataset']}: {ext['all']['pairs']} pairs; {ext['all']['images']} of "
                     f"its {ext['n']} images match the dataset ({ext['all']['same_name']} pairs share the file "
                     f"name); {ext['leaks']} match train or validation images")
    c = s["classifier"]
    if c.get("roc_auc") is not None:
        ci = c["roc_auc_ci"]
        lines.append(f"metadata-only classifier: ROC-AUC {c['roc_auc']:.3f}"
                     + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f", relies most on {c['top_property']}")
    if s.get("note"):
        lines.append(f"shortcuts: {s['note']}")
    lines += [f"FINDING: {f}" for f in block["findings"]] or ["no finding"]
    return "\n".join(lines)


def cmd_audit(args: argparse.Namespace) -> int:
    block = audit_run.audit_spec(args.dataset, args.external, groups=args.groups, group_pattern=args.group_pattern,
                                 image_size=args.image_size, task=args.task, allow_missing=args.allow_missing,
                                 split_seed=args.split_seed, val_fraction=args.val_fraction,
                                 test_fraction=args.test_fraction, n_jobs=None if args.n_jobs == -1 else args.n_jobs)
    print(text_report(block))
    if args.json:
        print(f"wrote {write_json(args.json, block)}", file=sys.stderr)
    return 0
