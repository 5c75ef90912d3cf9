"""Throughput of ResNet50 embedding extraction against a bare ``model.predict`` (same batch size,
same machine): the extraction path (uint8 images in, resize + 3 channels + ``preprocess_input``
inside the graph, disk cache switched off) must reach at least 90% of the bare backbone's rate on
already-preprocessed float input.

Training throughput (images/s of a training epoch after the first, compiling, one) of the medbench
estimators against a bare Keras model of the same architecture on the same backend (``jit_compile``
left at Keras' ``auto``, plain ``fit`` on ready float input, no augmentation, no callbacks): the CNN,
and the ResNet50 top-stage fine-tune (random weights, 32 px so it runs on a CPU). medbench's figure is
the one its record carries (``report_info_["training"]["images_per_s"]``: augmentation on the device,
uint8 input resized in the graph, class weights); its best epoch after the first must reach
``TRAIN_RATIO`` of the bare model's (best of the same epochs: robust to other load on the machine).
Run on both backends: ``KERAS_BACKEND=jax pytest -m perf tests/benchmarks/test_deep_throughput.py``.

Marked ``perf`` and skipped unless asked for: ``pytest -m perf --benchmark-enable tests/benchmarks``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

pytestmark = [pytest.mark.perf,  # Keras on NumPy 2 warns on every array conversion; nothing medbench can change
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn.t accept a copy keyword")]

N_IMAGES = 256
BATCH = 64
SIZE = 64  # resnet50's working size for 28 px images
REQUIRED_RATIO = 0.90
TRAIN_RATIO = 0.80
N_TRAIN, TRAIN_BATCH, TRAIN_EPOCHS = 512, 64, 4
FT_TRAIN, FT_BATCH, FT_SIZE = 128, 32, 32


@pytest.fixture(scope="module", autouse=True)
def _only_when_asked(request):
    cfg = request.config
    disabled = cfg.getoption("benchmark_disable", False) and not cfg.getoption("benchmark_enable", False)
    if disabled and "perf" not in (cfg.getoption("markexpr", "") or ""):
        pytest.skip("throughput benchmark: run with -m perf --benchmark-enable")


@pytest.fixture(scope="module")
def models():
    from medbench.models.backbones import BACKBONES
    from medbench.models.transfer import Weights, build_backbone, build_extractor, embedding_params

    row = BACKBONES["resnet50"]
    backbone = build_backbone(row, Weights("random", "benchmark"), SIZE)
    extractor = build_extractor(row, backbone, (28, 28), SIZE)
    rng = np.random.default_rng(0)
    x_uint8 = rng.integers(0, 256, size=(N_IMAGES, 28, 28, 1), dtype=np.uint8)
    # The bare model's input: the same images already resized, 3-channel and preprocessed.
    x_ready = np.asarray(extractor.get_layer("imagenet_gray")(extractor.get_layer("resize")(x_uint8)))
    params = embedding_params(row, SIZE, {"kind": "random", "sha256": "benchmark"}, "float32", "bench")
    # warm-up: trace both predict functions once
    backbone.predict(x_ready[:BATCH], batch_size=BATCH, verbose=0)
    extractor.predict(x_uint8[:BATCH], batch_size=BATCH, verbose=0)
    return backbone, extractor, x_uint8, x_ready, params


def bare(backbone, x_ready):
    return backbone.predict(x_ready, batch_size=BATCH, verbose=0)


def extraction(extractor, x_uint8, params):
    from medbench.features import cache
    from medbench.models.transfer import extract_embeddings

    with cache.disabled():
        return extract_embeddings(extractor, x_uint8, BATCH, params)[0]


def test_bare_predict(benchmark, models):
    backbone, _, _, x_ready, _ = models
    out = benchmark.pedantic(bare, args=(backbone, x_ready), rounds=3, iterations=1)
    assert out.shape == (N_IMAGES, 2048)


def test_embedding_extraction(benchmark, models):
    _, extractor, x_uint8, _, params = models
    out = benchmark.pedantic(extraction, args=(extractor, x_uint8, params), rounds=3, iterations=1)
    assert out.shape == (N_IMAGES, 2048)


def test_extraction_reaches_90_percent_of_bare_predict(models):
    """Interleaved runs, best of each: robust to other load on the machine."""
    backbone, extractor, x_uint8, x_ready, params = models
    t_bare, t_ext = [], []
    for _ in range(4):
        t0 = time.perf_counter()
        a = bare(backbone, x_ready)
        t_bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = extraction(extractor, x_uint8, params)
        t_ext.append(time.perf_counter() - t0)
    assert np.allclose(a, b, rtol=1e-3, atol=1e-3)  # the same computation
    ratio = min(t_bare) / min(t_ext)
    print(f"\nextraction / bare predict throughput ratio: {ratio:.3f} "
          f"(bare {N_IMAGES / min(t_bare):.1f} img/s, extraction {N_IMAGES / min(t_ext):.1f} img/s)")
    assert ratio >= REQUIRED_RATIO


# -- training throughput ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def train_data(pneumonia_parts):
    return pneumonia_parts(N_TRAIN, 128, 8)


def _best(rates: list[float]) -> float:
    """The best epoch after the first (compiling) one: robust to other load on a shared machine."""
    return max(rates[1:])


def _bare_images_per_s(model, x, y, batch: int, epochs: int) -> float:
    """A plain compiled ``fit``, timed per epoch like medbench's records (best epoch after the first)."""
    from medbench.models import keras_base as kb

    keras = kb.import_keras()
    timer = kb._epoch_timer(keras)
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer], shuffle=True)
    return _best(kb.throughput(len(x), timer.seconds)["epoch_images_per_s"])


def _bare_cnn(input_shape, size: int):
    """The CNN's architecture written out in plain Keras (no medbench layers, no augmentation)."""
    from medbench.models import keras_base as kb
    from medbench.models.cnn import stage_plan

    keras = kb.import_keras()
    L = keras.layers
    inputs = keras.Input(shape=(*input_shape, 1))
    x = inputs
    stem, n_stages = stage_plan(size)
    assert not stem

    def block(x, filters):
        x = L.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        return L.ReLU()(L.BatchNormalization(momentum=0.9)(x))

    for i in range(n_stages):
        filters = 32 * 2 ** min(i, 3)
        if i > 0:
            x = block(x, filters)
        x = block(x, filters)
        if i < n_stages - 1:
            x = L.MaxPooling2D()(x)
    x = L.Dropout(0.3)(L.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, L.Dense(2, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=1e-4),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _bare_finetune(size: int):
    """ResNet50 (random weights) with the same trainable set as strategy=finetune: conv5 minus batch norm."""
    from medbench.models import keras_base as kb

    keras = kb.import_keras()
    backbone = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(size, size, 3),
                                           pooling="avg")
    for layer in backbone.layers:
        layer.trainable = layer.name.startswith("conv5_") and not isinstance(layer, keras.layers.BatchNormalization)
    inputs = keras.Input(shape=(size, size, 3))
    h = keras.layers.Dropout(0.3)(backbone(inputs, training=False))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _ratio_line(what: str, ours: float, bare: float) -> str:
    from medbench.models import keras_base as kb

    backend = kb.import_keras().backend.backend()
    return (f"\n{what} training throughput [{backend}]: medbench {ours:.1f} img/s, bare Keras {bare:.1f} img/s, "
            f"ratio {ours / bare:.3f}")


def test_cnn_training_reaches_80_percent_of_bare_keras(train_data):
    from medbench.models.cnn import KerasCNNClassifier

    (x, y), val = train_data["train"], train_data["val"]
    est = KerasCNNClassifier(epochs=TRAIN_EPOCHS, batch_size=TRAIN_BATCH, patience=0).fit(x, y, validation_data=val)
    ours = est.report_info_["training"]
    assert ours["compiled"] is True
    bare = _bare_images_per_s(_bare_cnn(x.shape[1:3], 28), x.astype("float32")[..., None] / 255.0, y,
                              TRAIN_BATCH, TRAIN_EPOCHS)
    mine = _best(ours["epoch_images_per_s"])
    print(_ratio_line("CNN (28 px)", mine, bare))
    assert mine / bare >= TRAIN_RATIO


def test_resnet50_finetune_training_reaches_80_percent_of_bare_keras(train_data):
    from medbench.models.transfer import KerasTransferClassifier

    (x, y), val = train_data["train"], train_data["val"]
    x, y, val = x[:FT_TRAIN], y[:FT_TRAIN], (val[0][:64], val[1][:64])
    est = KerasTransferClassifier(weights="random", strategy="finetune", image_size=FT_SIZE, epochs=1,
                                  finetune_epochs=TRAIN_EPOCHS, batch_size=FT_BATCH)
    with _no_cache():
        est.fit(x, y, validation_data=val)
    ours = est.report_info_["training"]
    assert ours["compiled"] is True and ours["epoch_images_per_s"]
    ready = np.random.default_rng(0).uniform(-120, 150, size=(FT_TRAIN, FT_SIZE, FT_SIZE, 3)).astype("float32")
    bare = _bare_images_per_s(_bare_finetune(FT_SIZE), ready, y, FT_BATCH, TRAIN_EPOCHS)
    if len(ours["epoch_images_per_s"]) < 2:
        pytest.skip("early stopping left no epoch after the first to time")
    mine = _best(ours["epoch_images_per_s"])
    print(_ratio_line(f"ResNet50 fine-tune ({FT_SIZE} px)", mine, bare))
    assert mine / bare >= TRAIN_RATIO


def _no_cache():
    from medbench.features import cache

    return cache.disabled()


def test_cnn_training_epoch(benchmark, train_data):
    """One epoch of medbench's CNN training model (augmentation in the compiled step)."""
    from medbench.models import keras_base as kb
    from medbench.models.cnn import build_cnn

    keras = kb.import_keras()
    x, y = train_data["train"]
    _, train = build_cnn((28, 28), 2, image_size=28)
    kb.compile_model(train, keras.optimizers.AdamW(1e-3, weight_decay=1e-4))
    train.fit(x, y, batch_size=TRAIN_BATCH, epochs=1, verbose=0)  # compile
    benchmark.pedantic(train.fit, args=(x, y), kwargs={"batch_size": TRAIN_BATCH, "epochs": 1, "verbose": 0},
                       rounds=3, iterations=1)


def test_bare_cnn_training_epoch(benchmark, train_data):
    x, y = train_data["train"]
    model = _bare_cnn(x.shape[1:3], 28)
    xf = x.astype("float32")[..., None] / 255.0
    model.fit(xf, y, batch_size=TRAIN_BATCH, epochs=1, verbose=0)  # compile
    benchmark.pedantic(model.fit, args=(xf, y), kwargs={"batch_size": TRAIN_BATCH, "epochs": 1, "verbose": 0},
                       rounds=3, iterations=1)
