"""The deep pipelines, registered by name: ``cnn`` (compact CNN from scratch), ``resnet50`` and the
other transfer backbones (``transfer-densenet121``, ``transfer-efficientnetb0``,
``transfer-mobilenetv3small``, ``transfer-convnexttiny``: not in the default run).

Each is a one-step :class:`~sklearn.pipeline.Pipeline` around a Keras estimator with the same
``fit(X, y, validation_data=...)`` / ``predict_proba`` face as the classical classifiers, so it runs
on exactly the same images and appears in the same tables. The transfer pipelines are one estimator,
:class:`~medbench.models.transfer.KerasTransferClassifier`, one pipeline per row of
:data:`~medbench.models.backbones.BACKBONES`; the step is named after the row (``resnet50``,
``densenet121``, ...). Options are the estimators' constructor parameters: ``--option
cnn.epochs=3`` sets ``cnn__epochs``, ``--option resnet50.strategy=finetune`` sets
``resnet50__strategy`` (the runner applies them and calls ``check_params()``, which refuses a bad
value in one line). Builders read nothing but the job's seed and class count. Importing this module
does not import Keras.
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from medbench.models.backbones import BACKBONES, Backbone
from medbench.models.cnn import KerasCNNClassifier
from medbench.models.registry import BuildContext, PipelineSpec, register
from medbench.models.transfer import KerasTransferClassifier

DEFAULT_BACKBONE = "resnet50"  # the one transfer row in the default run


def build_cnn(ctx: BuildContext) -> Pipeline:
    return Pipeline([("cnn", KerasCNNClassifier(n_classes=ctx.n_classes, random_state=ctx.seed))])


def build_transfer(bb: Backbone, ctx: BuildContext) -> Pipeline:
    return Pipeline([(bb.key, KerasTransferClassifier(backbone=bb.key, n_classes=ctx.n_classes,
                                                      random_state=ctx.seed))])


register(PipelineSpec("cnn", "deep", "compact CNN trained from scratch (augmentation, class weights, "
                      "early stopping)", build_cnn))
for _bb in BACKBONES.values():
    register(PipelineSpec(
        name=_bb.pipeline, family="deep",
        summary=f"{_bb.constructor} ImageNet transfer: frozen-backbone embeddings + dense head "
                f"(strategy=finetune: {_bb.top_stage_label} end to end)",
        build=lambda ctx, bb=_bb: build_transfer(bb, ctx),
        default=_bb.key == DEFAULT_BACKBONE,
    ))
