"""``medbench predict MODEL_DIR IMAGES... [--out predictions.csv]``: predict images with a saved model.

One CSV row per image (files, or every non-hidden file below a folder): the path, P(class) per class,
the label at the threshold chosen on validation, and a status. Unreadable files are named in the
status column and on stderr and the others are still predicted (exit 1 when any failed, else 0); a
missing, damaged or incompatible model folder is ``medbench: error: ...`` (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from medbench import api
from medbench.core import outputs, quiet
from medbench.core.atomic import write_text
from medbench.core.errors import MedbenchError
from medbench.running import predict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="predict image files or folders with a model saved by `run --save-models`",
        description="Load a saved model (every file checked against manifest.json; nothing unpickled), decode "
                    "each image exactly as in training (grayscale, resized to the model's size) and write one "
                    "CSV row per image: path, p_<class> per class, the label at the decision threshold chosen "
                    "on validation, and a status ('ok' or 'error: <reason>'). Exit status: 0 all predicted, "
                    "1 some files could not be read (the others are predicted), 2 the model cannot be used.")
    p.add_argument("model", type=Path, metavar="MODEL_DIR", help="a saved model: OUT/models/PIPELINE__seedN")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGES",
                   help="image files and/or folders (every non-hidden file below a folder, recursively)")
    p.add_argument("--out", type=str, help="write the CSV here (default: standard output)")
    p.add_argument("--n-jobs", type=int, default=-1, help="threads decoding images (default: -1, all cores)")
    p.add_argument("--max-image-pixels", type=int, default=None, metavar="N",
                   help="refuse images with more pixels than this (default: Pillow's limit, about 89 million)")
    p.set_defaults(handler=cmd_predict)


def check_out(out: str | None) -> Path | None:
    """``--out`` as a file path that can be written: not empty, not a folder, a name the system takes."""
    if out is not None and not out.strip():
        raise MedbenchError("--out is empty: give a file for the CSV (or leave --out out for standard output)")
    return outputs.output_file(out, "--out", "the CSV", "predictions.csv")


def cmd_predict(args: argparse.Namespace) -> int:
    out = check_out(args.out)  # before the model is loaded or any image decoded
    # a Keras model loads TensorFlow, whose C++ log lines (oneDNN, cudart, cuInit) go to a log file
    with quiet.native_output_to(quiet.command_log("predict")):
        _, rows, text = api.predict_images(args.model, args.images, n_jobs=args.n_jobs,
                                           max_pixels=args.max_image_pixels)
    failed = [r for r in rows if r["status"] != predict.OK]
    if out is not None:
        with outputs.writing("--out", out):
            write_text(out, text)
        labels = Counter(r["label"] for r in rows if r["label"] is not None)
        counts = ", ".join(f"{n} {name}" for name, n in sorted(labels.items())) or "none"
        print(f"wrote {args.out}: {len(rows) - len(failed)} images predicted ({counts}), {len(failed)} unreadable",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 1 if failed else 0
