"""Named run profiles for ``medbench run --profile NAME``: declarative pipeline sets (and options).

A profile fills in ``--pipelines`` when the command line leaves it at its default and puts its
options before the user's ``--option`` items (so the user's win). ``fast`` is the regression
profile: every pipeline that is quick on 2 cores and bit-reproducible run to run on one machine -
the classical ones and the CNN at 2 epochs (ResNet50 is slow on CPU and wants downloaded weights);
``tox -e regress`` runs it and compares the result with ``baselines/pneumoniamnist-fast``.

``gpu`` is the deep profile for a big accelerator: the CNN at 224 px and ResNet50 with
``strategy=full`` (every layer trained; ImageNet weights, or random init - reported as RANDOM-INIT -
when they cannot be had) at 224 px, batches of 512 / 256, mixed precision ``auto`` (bfloat16 on GPUs
of compute capability >= 8.0, float16 on older ones, float32 on a CPU: ``keras_base.resolve_precision``)
and deterministic ops off (TensorFlow refuses XLA with them on). Batches are sliced from the uint8
image arrays (no per-image Python work) and resized inside the model, on the device. It runs on a CPU
too, slowly.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from medbench.core.errors import MedbenchError


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    pipelines: tuple[str, ...]
    options: tuple[str, ...] = ()  # --option items (PIPELINE.KEY=VALUE), applied before the user's


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile(
        name="fast",
        summary="regression profile: majority, HOG/SIFT x SVM/tree/XGBoost and a 2-epoch CNN; "
                "bit-reproducible on CPU",
        pipelines=("majority", "hog-svm", "hog-tree", "hog-xgboost", "sift-svm", "sift-tree", "sift-xgboost",
                   "cnn"),
        options=(
            # One XGBoost thread: the same trees whatever the machine's core count, and no OpenMP
            # barrier stalls on a busy CI machine (measured: 62 s instead of 300 s under load 4 on 2
            # cores; the same probabilities, bit for bit, as the default 2 threads).
            "hog-xgboost.xgboost__n_jobs=1", "sift-xgboost.xgboost__n_jobs=1",
            # The CNN's fast setting: 2 epochs (~30 s on 2 cores), deterministic kernels: identical
            # results run to run, but not across CPUs / core counts (see the baseline's tolerances).
            "cnn.epochs=2", "cnn.deterministic=1",
        ),
    ),
    Profile(
        name="gpu",
        summary="deep models for a big GPU: the CNN and ResNet50 (strategy=full) at 224 px, mixed precision "
                "(bfloat16 from compute capability 8.0), large batches; runs (slowly) on a CPU too",
        pipelines=("cnn", "resnet50"),
        options=(
            "cnn.image_size=224", "cnn.batch_size=512", "cnn.mixed_precision=auto", "cnn.deterministic=0",
            "resnet50.strategy=full", "resnet50.image_size=224", "resnet50.batch_size=256",
            "resnet50.finetune_epochs=30", "resnet50.weights=imagenet-or-random",
            "resnet50.mixed_precision=auto", "resnet50.deterministic=0",
        ),
    ),
)}


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise MedbenchError(f"unknown profile {name!r}; known profiles: {', '.join(PROFILES)}")
    return PROFILES[name]


def apply(args: argparse.Namespace) -> None:
    """Fill ``args.pipelines`` / ``args.option`` of ``medbench run`` from ``args.profile`` (if set)."""
    name = getattr(args, "profile", None)
    if not name:
        return
    profile = get(name)
    if args.pipelines == ["all"]:
        args.pipelines = list(profile.pipelines)
    args.option = [*profile.options, *args.option]
