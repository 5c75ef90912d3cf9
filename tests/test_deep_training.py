"""Deep training as it runs in a benchmark: the compiled train step (augmentation kept out of the
model graph, so ``jit_compile`` stays on), the augmentation layer itself, the training throughput
and compile state in the record and the runtime table, ``resnet50`` ``strategy=full``, and the
``gpu`` profile - through the real runner (``medbench.run`` -> ``fit_and_evaluate``) on a small
real PneumoniaMNIST subset.

Every test here builds Keras models: all are marked ``deep`` (``tox -e jax`` runs them again on
Keras' JAX backend). Nothing needs a GPU or ImageNet weights.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data_paths import pneumonia_arrays

import medbench
from medbench.models import augment, keras_base, profiles, registry
from medbench.models.cnn import AUGMENTATION

pytestmark = [pytest.mark.deep, pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")]


@pytest.fixture(scope="module")
def small(shared_datasets):
    """128 train / 64 val / 64 test real PneumoniaMNIST images (both classes in each)."""
    return pneumonia_arrays(shared_datasets, {"train": 128, "val": 64, "test": 64})


@pytest.fixture
def small_npz(small, tmp_path) -> str:
    """The subset as an ``npz:`` dataset (official split kept) for ``medbench.run``."""
    path = tmp_path / "pneumonia-small.npz"
    np.savez(path, **{f"{s}_{k}": v for s, (x, y) in small.items() for k, v in (("images", x), ("labels", y))})
    return f"npz:{path}"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEDBENCH_RESNET50_WEIGHTS", raising=False)


def backend() -> str:
    return keras_base.import_keras().backend.backend()


def estimator(name: str, **params):
    pipe = registry.get(name).build(registry.BuildContext(n_classes=2, image_shape=(28, 28), seed=0))
    return pipe.steps[-1][1].set_params(**params)


def fit(est, data):
    return est.fit(*data["train"], validation_data=data["val"])


def assert_compiled(info: dict) -> None:
    """The record says the train step ran compiled, with XLA / jax.jit, and carries a throughput."""
    training = info["training"]
    assert training["backend"] == backend()
    assert training["compiled"] is True and training["mode"].startswith("compiled")
    if backend() in ("jax", "tensorflow"):
        assert training["jit_compile"] is True
    assert training["images_per_s"] > 0 and training["epoch_images_per_s"]
    json.dumps(training)


def assert_no_augmentation(model) -> None:
    """The fitted (saved) model: no augmentation layer, every layer jit-compatible."""
    layers = list(model._flatten_layers())
    assert not [layer for layer in layers if "augment" in layer.name or layer.name.startswith("random_")]
    assert all(layer.supports_jit for layer in layers)
    if backend() == "jax":  # (TensorFlow: also False while op determinism is on, whatever the layers)
        assert keras_base.jit_setting(model) is True


# -- the augmentation layer -------------------------------------------------------------------------

def test_augmentation_is_random_per_batch_seeded_and_identity_at_inference():
    x = np.random.default_rng(0).random((8, 28, 28, 1)).astype("float32")
    a, b = augment.random_augment(5), augment.random_augment(5)
    first, second = np.asarray(a(x, training=True)), np.asarray(a(x, training=True))
    assert not np.allclose(first, second)  # new parameters for every batch
    assert np.allclose(first, np.asarray(b(x, training=True)))  # the same seed: the same draws
    assert np.array_equal(np.asarray(a(x)), x) and np.array_equal(np.asarray(a(x, training=False)), x)
    assert 0.0 <= first.min() and first.max() <= 1.0  # clipped to the value range
    assert a.supports_jit
    # the strength the reports name
    assert AUGMENTATION == ["flip-horizontal", "rotation+-0.03turn", "shift+-8%", "zoom+-10%", "contrast+-20%"]
    assert (augment.ROTATION_TURNS, augment.SHIFT, augment.ZOOM, augment.CONTRAST) == (0.03, 0.08, 0.10, 0.20)


def test_warp_moves_pixels_as_asked():
    ops = keras_base.import_keras().ops
    x = np.random.default_rng(1).random((2, 16, 16, 3)).astype("float32")
    zeros, ones = np.zeros(2, "float32"), np.ones(2, "float32")
    same = augment._warp(ops, ops.convert_to_tensor(x), 16, 16, angle=zeros, dx=zeros, dy=zeros, zoom=ones)
    assert np.allclose(np.asarray(same), x, atol=1e-6)
    shifted = augment._warp(ops, ops.convert_to_tensor(x), 16, 16, angle=zeros, dx=ones * 3, dy=zeros, zoom=ones)
    assert np.allclose(np.asarray(shifted)[:, :, :-3], x[:, :, 3:], atol=1e-6)
    half_turn = augment._warp(ops, ops.convert_to_tensor(x), 16, 16, angle=ones * np.pi, dx=zeros, dy=zeros,
                              zoom=ones)
    assert np.allclose(np.asarray(half_turn), x[:, ::-1, ::-1], atol=1e-4)


# -- compiled training ------------------------------------------------------------------------------

def test_cnn_trains_compiled_and_keeps_augmentation_out_of_the_model(small):
    est = fit(estimator("cnn", epochs=2, batch_size=32, deterministic=False), small)
    assert_compiled(est.report_info_)
    assert est.report_info_["augmentation"] == AUGMENTATION
    assert_no_augmentation(est.model_)
    t = est.report_info_["training"]
    assert t["includes_compile"] is False and t["images_per_s"] == t["epoch_images_per_s"][1]


def test_cnn_deterministic_still_compiled(small):
    """TensorFlow op determinism: Keras refuses XLA, but the step is a tf.function graph, not eager."""
    est = fit(estimator("cnn", epochs=1, batch_size=32, augment=True), small)
    t = est.report_info_["training"]
    assert t["compiled"] is True and t["includes_compile"] is True
    if backend() == "jax":
        assert t["jit_compile"] is True


def test_resnet50_finetune_trains_compiled(small):
    tiny = {s: (x[:32], y[:32]) for s, (x, y) in small.items()}
    est = fit(estimator("resnet50", weights="random", image_size=32, epochs=1, strategy="finetune",
                        finetune_epochs=2, batch_size=16, deterministic=False), tiny)
    assert_compiled(est.report_info_)
    assert_no_augmentation(est.model_)
    assert "training" not in est.report_info_["finetune"]  # one record of it, at the top
    assert est.predict_proba(tiny["test"][0]).shape == (32, 2)


# -- precision ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, device, cc, expected", [
    ("auto", "cpu", None, "float32"),
    ("auto", "gpu", "9.0", "mixed_bfloat16"),
    ("auto", "gpu", "8.0", "mixed_bfloat16"),
    ("auto", "gpu", "7.5", "mixed_float16"),
    ("auto", "gpu", None, "mixed_float16"),
    ("on", "gpu", "8.6", "mixed_bfloat16"),
    ("off", "gpu", "9.0", "float32"),
    (True, "cpu", None, "mixed_float16"),
])
def test_precision_follows_the_device(value, device, cc, expected):
    assert keras_base.resolve_precision(value, device, cc) == expected


# -- resnet50 strategy=full ---------------------------------------------------------------------------

@pytest.mark.slow  # TensorFlow builds the whole ResNet50 training graph: ~45 s on 2 cores (XLA: more)
def test_resnet50_full_trains_every_layer_from_random_init(small):
    tiny = {s: (x[:32], y[:32]) for s, (x, y) in small.items()}
    est = fit(estimator("resnet50", weights="random", image_size=32, strategy="full", finetune_epochs=2,
                        batch_size=16), tiny)
    info = est.report_info_
    assert est.variant_ == "random init" and info["transfer_learning"] is False
    assert "RANDOM-INIT" in info["strategy"] and info["strategy"].startswith("full")
    assert all(layer.trainable for layer in est.backbone_.layers)
    assert info["trainable_params"] > 0.99 * (info["params"] - 60_000)  # all but batch-norm statistics
    assert info["early_stopping"].startswith("val_auc") and "warm-up" in info["optimizer"]
    assert info["augmentation"] == AUGMENTATION and est.extractor_ is None
    assert info["training"]["compiled"] is True and info["training"]["stage"] == "end to end"
    if backend() == "jax":  # TensorFlow with op determinism (the default): a tf.function graph, no XLA
        assert info["training"]["jit_compile"] is True
    assert_no_augmentation(est.model_)
    proba = est.predict_proba(tiny["test"][0])
    assert proba.shape == (32, 2) and np.allclose(proba.sum(1), 1)


# -- through the real runner --------------------------------------------------------------------------

def _records(out: Path) -> dict[str, dict]:
    results = json.loads((out / "results.json").read_text())
    return {j["pipeline"]: j for j in results["jobs"]}


def test_deep_pipelines_through_the_runner(small_npz, tmp_path):
    """``medbench.run``: the CNN and ResNet50 (frozen, random init) fitted and scored by the runner; the
    records carry the training throughput and compile state, the report's runtime table shows them."""
    out = tmp_path / "run"
    res = medbench.run(small_npz, pipelines=["cnn", "resnet50"], out=out, log=None, bootstrap_resamples=20,
                       n_jobs=1, options={"cnn": {"epochs": 2, "batch_size": 32},
                                          "resnet50": {"weights": "random", "image_size": 32, "epochs": 3}})
    assert not res.failed
    jobs = _records(out)
    assert set(jobs) == {"cnn", "resnet50"}
    for name, job in jobs.items():
        assert job["status"] == "ok" and 0 <= job["metrics"]["roc_auc"] <= 1, name
        assert job["model_info"]["training"]["compiled"] is True, name
        assert job["model_info"]["training"]["images_per_s"] > 0, name
    assert jobs["cnn"]["model_info"]["training"]["includes_compile"] is False
    assert jobs["resnet50"]["name"] == "resnet50 (random init)"
    report = (out / "report.md").read_text()
    assert "Training (img/s)" in report and f"compiled ({backend()})" in report


def test_gpu_profile_resolves():
    prof = profiles.get("gpu")
    assert prof.pipelines == ("cnn", "resnet50")
    opts = dict(item.split("=", 1) for item in prof.options)
    assert opts["resnet50.strategy"] == "full" and opts["resnet50.image_size"] == "224"
    assert opts["cnn.image_size"] == "224" and opts["cnn.mixed_precision"] == opts["resnet50.mixed_precision"] == "auto"
    assert int(opts["cnn.batch_size"]) >= 256 and int(opts["resnet50.batch_size"]) >= 256
    # every option is one the pipelines accept (what the runner checks before reading any data)
    specs = registry.resolve(list(prof.pipelines))
    parsed: dict[str, dict] = {}
    for item in prof.options:
        key, value = item.split("=", 1)
        pipe, param = key.split(".", 1)
        parsed.setdefault(pipe, {})[param] = value
    registry.validate_options(specs, parsed)
    for spec in specs:
        pipe = spec.build(registry.BuildContext(n_classes=2, image_shape=(224, 224)))
        registry.apply_options(spec, pipe, parsed[spec.name])
        pipe.steps[-1][1].check_params()


@pytest.mark.slow  # ResNet50 trained end to end: TensorFlow builds its training graph (~45 s on 2 cores)
def test_gpu_profile_tiny_runs_on_cpu(small_npz, tmp_path):
    """The gpu profile's settings, made tiny by the user's options (which win), train on a CPU: float32
    there, strategy=full, random init reported as such."""
    out = tmp_path / "gpu"
    res = medbench.run(small_npz, profile="gpu", out=out, log=None, bootstrap_resamples=20, n_jobs=1,
                       options=["cnn.image_size=32", "cnn.epochs=1", "cnn.batch_size=32",
                                "resnet50.image_size=32", "resnet50.finetune_epochs=1", "resnet50.batch_size=32",
                                "resnet50.weights=random",
                                "resnet50.deterministic=1"])  # on TensorFlow: no XLA build of ResNet50 here
    assert not res.failed
    jobs = _records(out)
    assert set(jobs) == {"cnn", "resnet50"}
    rn, cnn = jobs["resnet50"]["model_info"], jobs["cnn"]["model_info"]
    assert rn["strategy"].startswith("full") and "RANDOM-INIT" in rn["strategy"]
    assert jobs["resnet50"]["name"] == "resnet50 (random init)"
    assert rn["precision"] == cnn["precision"] == ("float32" if rn["device"] == "cpu" else rn["precision"])
    assert cnn["input_size"] == [32, 32] and rn["training"]["compiled"] is True
