"""The transfer-learning backbones as rows of one table (no code per backbone).

Each :class:`Backbone` row names a ``keras.applications`` constructor (built with
``include_top=False, pooling="avg"``), the ``keras.applications`` module whose ``preprocess_input``
maps ``[0, 255]`` RGB to what the network expects (a no-op for the models that preprocess inside
themselves: EfficientNet, MobileNetV3, ConvNeXt), the working input size, the official no-top
ImageNet weights file with the hash Keras publishes for it (MD5, or SHA-256 for ConvNeXt), the
embedding width, and the layer-name prefixes of the top stage that ``strategy="finetune"`` unfreezes.
:mod:`medbench.models.transfer` does the rest; :mod:`medbench.models.deep` registers one pipeline per
row. Adding a backbone is adding a row (and a test that builds it).
"""

from __future__ import annotations

from dataclasses import dataclass

from medbench.core import settings

KERAS_APPS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"


@dataclass(frozen=True)
class Backbone:
    key: str  # short name: the pipeline step's name and the label in messages
    pipeline: str  # the registered pipeline name (what --option PIPELINE.NAME=VALUE uses)
    constructor: str  # keras.applications.<constructor>
    preprocess_module: str  # keras.applications.<module>.preprocess_input
    weights_file: str  # the official no-top ImageNet weights file
    weights_url: str  # where Keras downloads it from (directory, ends with /)
    weights_hash: str  # Keras' published hash of that file (32 hex: MD5, 64 hex: SHA-256)
    embedding_dim: int  # width of the pooled embedding
    top_stage: tuple[str, ...]  # layer-name prefixes fine-tuned by strategy="finetune"
    top_stage_label: str  # the same in words, for reports
    sizes: tuple[int, int] = (64, 128)  # working size for images up to 64 px / for larger ones
    weights_env: str | None = None  # environment variable naming a local weights file (ResNet50 only)

    @property
    def hash_algorithm(self) -> str:
        return "sha256" if len(self.weights_hash) == 64 else "md5"

    def default_size(self, native: int) -> int:
        return self.sizes[0] if native <= 64 else self.sizes[1]


BACKBONES: dict[str, Backbone] = {b.key: b for b in (
    Backbone("resnet50", "resnet50", "ResNet50", "resnet50",
             "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5", KERAS_APPS_URL + "resnet/",
             "4d473c1dd8becc155b73f8504c6f6626", 2048, ("conv5_",), "conv5",
             weights_env=settings.RESNET50_WEIGHTS_ENV),
    Backbone("densenet121", "transfer-densenet121", "DenseNet121", "densenet",
             "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5", KERAS_APPS_URL + "densenet/",
             "30ee3e1110167f948a6b9946edeeb738", 1024, ("conv5_",), "conv5 (dense block 4)"),
    Backbone("efficientnetb0", "transfer-efficientnetb0", "EfficientNetB0", "efficientnet",
             "efficientnetb0_notop.h5", "https://storage.googleapis.com/keras-applications/",
             "50bc09e76180e00e4465e1a485ddc09d", 1280, ("block7", "top_"), "block7 + top conv"),
    Backbone("mobilenetv3small", "transfer-mobilenetv3small", "MobileNetV3Small", "mobilenet_v3",
             "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5", KERAS_APPS_URL + "mobilenet_v3/",
             "d3e8ec802a04aa4fc771ee12a9a9b836", 576, ("expanded_conv_10_", "conv_1"),
             "last inverted-residual block + last conv"),
    Backbone("convnexttiny", "transfer-convnexttiny", "ConvNeXtTiny", "convnext",
             "convnext_tiny_notop.h5", KERAS_APPS_URL + "convnext/",
             "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1", 768,
             ("convnext_tiny_stage_3",), "stage 4"),
)}

