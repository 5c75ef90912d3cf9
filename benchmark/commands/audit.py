"""``medbench audit DATASET``: patient groups, near-duplicates and shortcuts, before any model is fitted."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medbench.audit import run as audit_run
from medbench.core.atomic import write_json
from medbench.running.config import RunConfig

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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="check a dataset for patient leakage, near-duplicates and shortcuts",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=DESCRIPTION, epilog=EPILOG)
    p.add_argument("dataset", help="a dataset spec, as for `medbench run --dataset`")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the audit document (results.json's audit block)")
    # the run options an audit takes, declared once on RunConfig
    RunConfig.add_arguments(p, names=("external", "task", "image_size", "allow_missing", "split_seed", "val_fraction",
                                      "test_fraction", "n_jobs", "groups", "group_pattern"))
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
