"""The deep pipelines (``cnn``, ``resnet50`` and the other transfer rows): registration, parameters
(the ``--option`` values the runner sets, checked by ``check_params``), short real fits on a small
PneumoniaMNIST subset, seed reproducibility, multi-class, every backbone row's embeddings, the
embeddings cache and its key, and weights resolution (local file + hash checks, the one-line refusal
when ImageNet weights cannot be had, the explicit random-init fallback). No ImageNet weights exist
on the test machines: nothing here needs them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from data_paths import pneumonia_arrays

from medbench.core import cachekeys
from medbench.core.errors import MedbenchError
from medbench.features import cache
from medbench.models import backbones, registry, transfer
from medbench.models.backbones import BACKBONES

# Every test here is about the Keras models (``deep``: tox -e jax runs them again on JAX). Keras' own
# save_weights under NumPy 2 (not ours) warns: keep the report readable.
pytestmark = [pytest.mark.deep, pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")]

ROOT = Path(__file__).resolve().parents[1]
UNREACHABLE = "http://127.0.0.1:9/"


@pytest.fixture(scope="module")
def pneumonia(shared_datasets):
    """300 train / 100 val / 100 test real PneumoniaMNIST images (both classes in each)."""
    return pneumonia_arrays(shared_datasets, {"train": 300, "val": 100, "test": 100})


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Own embeddings cache, no user weights file, and unreachable weights URLs (downloads fail at once)."""
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEDBENCH_NO_CACHE", raising=False)
    monkeypatch.delenv("MEDBENCH_RESNET50_WEIGHTS", raising=False)
    for key, row in BACKBONES.items():
        monkeypatch.setitem(BACKBONES, key, dataclasses.replace(row, weights_url=UNREACHABLE))


def build(name: str, n_classes: int = 2, seed: int = 0, **params):
    """The registered pipeline with ``params`` set on its one step (what ``--option`` does)."""
    pipe = registry.get(name).build(registry.BuildContext(n_classes=n_classes, image_shape=(28, 28), seed=seed))
    step = pipe.steps[-1][0]
    return pipe.set_params(**{f"{step}__{k}": v for k, v in params.items()})


def fit(pipe, data, y=None, y_val=None):
    (x_tr, y_tr), (x_val, y_val0) = data["train"], data["val"]
    est = pipe.steps[-1][1]
    est.fit(x_tr, y_tr if y is None else y, validation_data=(x_val, y_val0 if y_val is None else y_val))
    return est


def three_classes(y: np.ndarray) -> np.ndarray:
    """A 3-class labelling of real images: pneumonia split in two by index parity."""
    return np.where((y == 1) & (np.arange(len(y)) % 2 == 1), 2, y)


# -- registration and parameters ------------------------------------------------------------------

def test_import_does_not_load_keras():
    code = ("import sys, medbench.models.deep; from medbench.models import registry; registry.all_pipelines(); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registered_as_deep_one_step_pipelines():
    names = {"cnn": "cnn", **{bb.pipeline: bb.key for bb in BACKBONES.values()}}
    assert set(names) == {"cnn", "resnet50", "transfer-densenet121", "transfer-efficientnetb0",
                          "transfer-mobilenetv3small", "transfer-convnexttiny"}
    for name, step in names.items():
        spec = registry.get(name)
        assert spec.family == "deep" and spec.default == (name in ("cnn", "resnet50")), name
        pipe = spec.build(registry.BuildContext(n_classes=3, image_shape=(224, 224), seed=7))
        assert [n for n, _ in pipe.steps] == [step]
        est = pipe.steps[-1][1]
        assert est.random_state == 7 and est.n_classes == 3
        if name != "cnn":
            assert est.backbone == step
    # the default run has one transfer row; the others are asked for by name
    assert [p.name for p in registry.resolve(["deep"])] == ["cnn", "resnet50"]


def test_command_line_values_are_accepted_as_given():
    """What ``--option`` produces (literals, else the plain string) passes ``check_params`` and means
    what it says at fit time; ``check_params`` rewrites nothing."""
    from medbench.models import keras_base as kb

    cnn = build("cnn", epochs=3, image_size="auto", batch_size=16, augment="off", deterministic=1,
                mixed_precision="auto").steps[-1][1]
    cnn.check_params()
    assert (cnn.epochs, cnn.image_size, cnn.augment, cnn.deterministic) == (3, "auto", "off", 1)
    assert kb.as_size(cnn.image_size) is None and kb.as_bool(cnn.augment) is False
    assert kb.as_bool(cnn.deterministic) is True and kb.as_bool("ON") is True
    rn = build("resnet50", weights="RANDOM", strategy="finetune", image_size=48, weights_sha256=None).steps[-1][1]
    rn.check_params()
    assert transfer.weights_keyword(rn.weights) == "random"
    assert transfer.weights_keyword("/x/My.h5") == "/x/My.h5"  # a path keeps its case


@pytest.mark.parametrize("name, param, value, allowed", [
    ("cnn", "epochs", "zero", "an integer in [1, 1000]"),
    ("cnn", "epochs", 0, "an integer in [1, 1000]"),
    ("cnn", "epochs", 2.5, "an integer in [1, 1000]"),
    ("cnn", "augment", "maybe", "1/0, True/False"),
    ("cnn", "mixed_precision", 2, "auto, 1/0"),
    ("cnn", "learning_rate", float("nan"), "a number in"),
    ("resnet50", "strategy", "partial", "one of frozen, finetune, full"),
    ("resnet50", "image_size", 16, "[32, 1024]"),
    ("resnet50", "weights_sha256", "abc", "64 hexadecimal digits"),
    ("resnet50", "weights", "", "imagenet, random, imagenet-or-random or a weights file path"),
    ("transfer-mobilenetv3small", "backbone", "vgg16", "one of resnet50, densenet121"),
    ("transfer-convnexttiny", "batch_size", 0, "an integer in [1, 4096]"),
])
def test_bad_parameters_are_one_line_errors(name, param, value, allowed):
    est = build(name, **{param: value}).steps[-1][1]
    with pytest.raises(MedbenchError) as err:
        est.check_params()
    msg = str(err.value)
    assert f"parameter {param}={value!r} is invalid: expected" in msg and allowed in msg and "\n" not in msg
    with pytest.raises(MedbenchError, match=f"parameter {param}="):  # fit checks first, before any work
        est.fit(np.zeros((4, 28, 28), np.uint8), [0, 1, 0, 1])


def test_options_through_the_registry():
    """The runner's path: ``--option`` strings resolved to step parameters, set, then checked."""
    spec = registry.get("resnet50")
    pipe = spec.build(registry.BuildContext(n_classes=2, image_shape=(28, 28)))
    resolved = registry.apply_options(spec, pipe, {"strategy": "finetune", "epochs": "3", "weights": "random"})
    assert resolved == {"resnet50__strategy": "finetune", "resnet50__epochs": 3, "resnet50__weights": "random"}
    assert pipe.steps[-1][1].epochs == 3
    with pytest.raises(MedbenchError, match="finetune"):  # the old finetune=1 alias is gone
        registry.apply_options(spec, spec.build(registry.BuildContext(2, (28, 28))), {"finetune": "1"})
    with pytest.raises(MedbenchError, match="epochs=0 is invalid"):
        registry.apply_options(spec, spec.build(registry.BuildContext(2, (28, 28))), {"epochs": "0"})


# -- cnn --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_cnn_fit_predict_real_subset(pneumonia):
    est = fit(build("cnn", epochs=2), pneumonia)
    x_test, _ = pneumonia["test"]
    proba = est.predict_proba(x_test)
    assert proba.shape == (100, 2) and np.allclose(proba.sum(1), 1)
    assert proba[:, 1].std() > 0  # not one constant answer
    assert set(est.predict(x_test)) <= {0, 1}
    info = est.report_info_
    assert est.variant_ is None and est.model_size_bytes_ > 100_000
    assert info["epochs_run"] == 2 and info["input_size"] == [28, 28] and info["device"] in ("cpu", "gpu")
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "val_auc"):
        assert len(info["history"][key]) == 2 and all(isinstance(v, float) for v in info["history"][key])
    assert {"backend", "precision", "batch_size", "class_weight", "augmentation"} <= set(info)
    json.dumps(info)  # JSON-able as it is


@pytest.mark.slow
def test_cnn_same_seed_same_probabilities(pneumonia):
    small = {s: (x[:160], y[:160]) for s, (x, y) in pneumonia.items()}
    a = fit(build("cnn", seed=3, epochs=1, batch_size=32), small).predict_proba(small["test"][0])
    b = fit(build("cnn", seed=3, epochs=1, batch_size=32), small).predict_proba(small["test"][0])
    assert np.array_equal(a, b)


@pytest.mark.slow
def test_cnn_multiclass_and_resize(pneumonia):
    y3, yv3 = three_classes(pneumonia["train"][1]), three_classes(pneumonia["val"][1])
    est = fit(build("cnn", n_classes=3, epochs=1, image_size=40), pneumonia, y3, yv3)
    proba = est.predict_proba(pneumonia["test"][0])
    assert proba.shape == (100, 3) and np.allclose(proba.sum(1), 1)
    assert list(est.classes_) == [0, 1, 2] and est.report_info_["input_size"] == [40, 40]


# -- the backbone table ------------------------------------------------------------------------------

@pytest.mark.slow
def test_table_hashes_are_the_ones_keras_publishes():
    """Each row's weights file and hash are what the installed Keras itself downloads and checks."""
    apps = "keras.src.applications."
    try:
        published = {
            "resnet50": importlib.import_module(apps + "resnet").WEIGHTS_HASHES["resnet50"][1],
            "efficientnetb0": importlib.import_module(apps + "efficientnet").WEIGHTS_HASHES["b0"][1],
            "mobilenetv3small": importlib.import_module(apps + "mobilenet_v3").WEIGHTS_HASHES[
                "small_224_1.0_float"][1],
            "convnexttiny": importlib.import_module(apps + "convnext").WEIGHTS_HASHES["convnext_tiny"][1],
        }
        densenet = Path(importlib.import_module(apps + "densenet").__file__).read_text()
    except (ImportError, KeyError, AttributeError) as exc:
        pytest.skip(f"this Keras keeps its published hashes elsewhere: {exc}")
    for key, expected in published.items():
        assert BACKBONES[key].weights_hash == expected, key
    row = BACKBONES["densenet121"]
    assert row.weights_file in densenet and f'file_hash="{row.weights_hash}"' in densenet
    assert BACKBONES["convnexttiny"].hash_algorithm == "sha256" and BACKBONES["resnet50"].hash_algorithm == "md5"


@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.slow) if k != "mobilenetv3small"
                                 else k for k in backbones.BACKBONES])  # slow: > 10 s on a busy 2-core machine
def test_every_backbone_gives_embeddings_of_its_declared_width(key):
    bb = BACKBONES[key]
    backbone = transfer.build_backbone(bb, transfer.Weights("random", "test"), 32)
    extractor = transfer.build_extractor(bb, backbone, (28, 28), 32)
    x = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28, 1), dtype=np.uint8)
    emb = extractor.predict_on_batch(x)
    assert np.asarray(emb).shape == (3, bb.embedding_dim)
    assert np.isfinite(emb).all() and np.asarray(emb).std() > 0
    top = [layer for layer in backbone.layers if layer.name.startswith(bb.top_stage)]
    assert top and any(layer.weights for layer in top)  # the fine-tuned stage exists and has weights


# -- the transfer estimator (ResNet50 row) ----------------------------------------------------------

@pytest.mark.slow
def test_resnet50_random_init_fit_cache_and_reproducibility(pneumonia):
    est = fit(build("resnet50", weights="random", image_size=32, epochs=20), pneumonia)
    x_test = pneumonia["test"][0]
    proba = est.predict_proba(x_test)
    assert proba.shape == (100, 2) and np.allclose(proba.sum(1), 1)
    info = est.report_info_
    assert est.variant_ == "random init" and info["transfer_learning"] is False
    assert "not transfer learning" in info["strategy"]
    assert info["embedding_cache_hit"] == {"train": False, "val": False}
    assert info["input_size"] == [32, 32] and info["weights"]["kind"] == "random"
    assert info["embedding_dim"] == 2048 and info["model"] == "resnet50"
    assert len(info["history"]["val_loss"]) == info["epochs_run"] and est.model_size_bytes_ > 50_000_000
    json.dumps(info)  # JSON-able as it is
    # Same seed: the same random backbone (same weights hash), so the second fit hits the cache ...
    again = fit(build("resnet50", weights="random", image_size=32, epochs=20), pneumonia)
    assert again.report_info_["embedding_cache_hit"] == {"train": True, "val": True}
    assert again.embedding_params_ == est.embedding_params_
    # ... and gives identical probabilities; computing without the cache gives the same embeddings.
    assert np.array_equal(again.predict_proba(x_test), proba)
    with cache.disabled():
        assert np.allclose(est.predict_proba(x_test), proba, atol=1e-5)


@pytest.mark.slow
def test_resnet50_multiclass(pneumonia):
    y3, yv3 = three_classes(pneumonia["train"][1]), three_classes(pneumonia["val"][1])
    est = fit(build("resnet50", n_classes=3, weights="random", image_size=32, epochs=5), pneumonia, y3, yv3)
    proba = est.predict_proba(pneumonia["test"][0])
    assert proba.shape == (100, 3) and np.allclose(proba.sum(1), 1) and est.variant_ == "random init"


@pytest.mark.slow
def test_resnet50_finetune_runs(pneumonia):
    small = {s: (x[:64], y[:64]) for s, (x, y) in pneumonia.items()}
    est = fit(build("resnet50", weights="random", image_size=32, epochs=2, strategy="finetune",
                    finetune_epochs=1, batch_size=32), small)
    info = est.report_info_
    assert info["finetune"]["epochs_run"] == 1 and info["finetune"]["trainable_params"] > 0
    assert info["finetune"]["unfrozen"].startswith("conv5")
    assert est.predict_proba(small["test"][0]).shape == (64, 2)


# -- embedding cache keys ---------------------------------------------------------------------------

def _mobilenet(pneumonia, **params):
    small = {s: (x[:32], y[:32]) for s, (x, y) in pneumonia.items()}
    return fit(build("transfer-mobilenetv3small", weights="random", image_size=32, epochs=1, **params), small)


@pytest.mark.slow
def test_embedding_key_follows_code_libraries_and_weights(pneumonia, monkeypatch):
    first = _mobilenet(pneumonia)
    assert first.report_info_["embedding_cache_hit"] == {"train": False, "val": False}
    assert first.report_info_["embedding_dim"] == 576
    assert _mobilenet(pneumonia).report_info_["embedding_cache_hit"] == {"train": True, "val": True}
    # what the key covers, as stored beside the entry
    (entry, *_) = cache.describe("embeddings")
    assert set(entry["code"]["modules"]) == {"medbench.models", "medbench.features", "medbench.core"}
    assert "keras" in entry["libraries"]
    params = entry["params"]
    assert params["weights"]["kind"] == "random" and params["weights"]["sha256"].startswith("init:")
    assert params["image_size"] == 32 and params["precision"] == "float32" and params["backend"]
    assert params["model"] == "mobilenetv3small-notop-avg"
    # an edit anywhere in medbench.models (here: a different source hash) misses ...
    real = cachekeys.source_hash
    monkeypatch.setattr(cachekeys, "source_hash", lambda *mods: "edited-" + real(*mods))
    assert _mobilenet(pneumonia).report_info_["embedding_cache_hit"] == {"train": False, "val": False}
    monkeypatch.setattr(cachekeys, "source_hash", real)
    # ... and so does another Keras version
    versions = cachekeys.library_versions
    monkeypatch.setattr(cachekeys, "library_versions",
                        lambda names: {**versions(names), **({"keras": "0.0-test"} if "keras" in names else {})})
    assert _mobilenet(pneumonia).report_info_["embedding_cache_hit"] == {"train": False, "val": False}
    monkeypatch.setattr(cachekeys, "library_versions", versions)
    # another seed is another random initialisation: other embeddings, another entry
    other = _mobilenet(pneumonia, random_state=1)
    assert other.report_info_["embedding_cache_hit"] == {"train": False, "val": False}
    assert other.embedding_params_["weights"] != first.embedding_params_["weights"]


def test_cache_identity_says_what_imagenet_or_random_resolves_to(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    est = build("transfer-densenet121", weights="imagenet-or-random").steps[-1][1]
    assert est.cache_identity() == {"backbone": "densenet121", "weights": {"kind": "random", "sha256": None}}
    refused = build("transfer-densenet121").steps[-1][1].cache_identity()  # imagenet, not to be had
    assert refused["weights"].startswith("unresolved: densenet121: ImageNet weights are not cached")


# -- weights resolution ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """Random-init notop ResNet50 weights saved like a user's own file, with their sha256."""
    from medbench.models.keras_base import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(123)
    model = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("weights") / "my_resnet50_notop.weights.h5"
    model.save_weights(str(path))
    kernel = model.get_layer("conv1_conv").kernel.numpy()
    return path, hashlib.sha256(path.read_bytes()).hexdigest(), kernel


@pytest.mark.slow
def test_resnet50_local_weights_file_is_verified_and_loaded(pneumonia, weights_file):
    path, sha, kernel = weights_file
    est = fit(build("resnet50", weights=str(path), weights_sha256=sha.upper(), image_size=32, epochs=3),
              pneumonia)
    assert np.array_equal(est.backbone_.get_layer("conv1_conv").kernel.numpy(), kernel)
    assert est.variant_ is None and est.report_info_["transfer_learning"] is True
    assert est.report_info_["weights"]["sha256"] == sha
    assert est.report_info_["embedding_cache_key"]["weights"] == {"kind": "imagenet", "sha256": sha}
    assert est.weights_sha256 == sha.upper()  # fit rewrites no parameter


@pytest.mark.slow
def test_imagenet_from_keras_cache_in_official_format(tmp_path, monkeypatch):
    """A file in Keras' cache with the published hash is used as is (no download); the legacy HDF5
    layout of the official notop file loads into a backbone of another input size."""
    h5py = pytest.importorskip("h5py")
    from keras.src.legacy.saving import legacy_h5_format

    from medbench.models.keras_base import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(5)
    model = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    row = BACKBONES["resnet50"]
    target = tmp_path / "keras_home" / "models" / row.weights_file
    target.parent.mkdir(parents=True)
    with h5py.File(target, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    row = dataclasses.replace(row, weights_hash=hashlib.md5(target.read_bytes()).hexdigest())
    weights = transfer.resolve_weights(row, "imagenet")
    assert (weights.kind, weights.source, weights.path) == ("imagenet", "keras cache", str(target))
    backbone = transfer.build_backbone(row, weights, 64)
    name = "conv5_block3_3_conv"
    assert np.array_equal(backbone.get_layer(name).kernel.numpy(), model.get_layer(name).kernel.numpy())


def test_resnet50_wrong_hash_is_refused(weights_file, monkeypatch):
    row = BACKBONES["resnet50"]
    path, sha, _ = weights_file
    wrong = "0" * 64
    with pytest.raises(MedbenchError) as err:
        transfer.resolve_weights(row, str(path), wrong)
    msg = str(err.value)
    assert str(path) in msg and wrong in msg and sha in msg and "\n" not in msg
    # Without weights_sha256 the file must be the official one (Keras' published MD5): it is not.
    with pytest.raises(MedbenchError, match="4d473c1dd8becc155b73f8504c6f6626"):
        transfer.resolve_weights(row, str(path))
    monkeypatch.setenv("MEDBENCH_RESNET50_WEIGHTS", str(path))
    with pytest.raises(MedbenchError, match="MEDBENCH_RESNET50_WEIGHTS"):
        transfer.resolve_weights(row, "imagenet", wrong)
    assert transfer.resolve_weights(row, "imagenet", sha).sha256 == sha  # the env var's file, hash accepted
    with pytest.raises(MedbenchError, match="does not exist"):
        transfer.resolve_weights(row, str(path) + ".missing")


@pytest.fixture(scope="module")
def mobilenet_weights_file(tmp_path_factory):
    """Random-init notop MobileNetV3Small weights saved as a user's own file, with their sha256."""
    from medbench.models.keras_base import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(7)
    model = keras.applications.MobileNetV3Small(weights=None, include_top=False, pooling="avg",
                                                input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("weights") / "my_mobilenet_notop.weights.h5"
    model.save_weights(str(path))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_wrong_local_weights_hash_is_refused_for_another_row(mobilenet_weights_file, pneumonia):
    path, sha = mobilenet_weights_file
    row = BACKBONES["mobilenetv3small"]
    with pytest.raises(MedbenchError) as err:  # not the official file: Keras' published MD5 differs
        transfer.resolve_weights(row, str(path))
    msg = str(err.value)
    assert msg.startswith("mobilenetv3small weights file") and row.weights_hash in msg and "\n" not in msg
    assert "transfer-mobilenetv3small.weights_sha256" in msg
    wrong = "f" * 64
    est = build("transfer-mobilenetv3small", weights=str(path), weights_sha256=wrong, image_size=32).steps[-1][1]
    with pytest.raises(MedbenchError, match=f"sha256 {sha} does not match the expected {wrong}"):
        fit(build("transfer-mobilenetv3small", weights=str(path), weights_sha256=wrong, image_size=32), pneumonia)
    assert est.cache_identity()["weights"].startswith("unresolved: mobilenetv3small weights file")
    ok = transfer.resolve_weights(row, str(path), sha)
    assert (ok.kind, ok.sha256) == ("imagenet", sha)


def test_resnet50_without_imagenet_weights_refuses_in_one_line(pneumonia, tmp_path, monkeypatch, capsys):
    row = BACKBONES["resnet50"]
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    with pytest.raises(MedbenchError) as err:
        fit(build("resnet50"), pneumonia)  # default weights=imagenet
    msg = str(err.value)
    assert "\n" not in msg and row.weights_file in msg and str(tmp_path / "keras_home" / "models") in msg
    assert "MEDBENCH_RESNET50_WEIGHTS" in msg and "resnet50.weights=random" in msg
    # imagenet-or-random: an explicit, announced fallback to random init.
    weights = transfer.resolve_weights(row, "imagenet-or-random")
    assert weights.is_random and "unavailable" in weights.source
    assert "falls back to random init" in capsys.readouterr().err


def test_other_rows_refuse_without_weights_naming_their_option(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    row = BACKBONES["convnexttiny"]
    with pytest.raises(MedbenchError) as err:
        transfer.resolve_weights(row, "imagenet")
    msg = str(err.value)
    assert msg.startswith("convnexttiny: ImageNet weights are not cached") and row.weights_file in msg
    assert "transfer-convnexttiny.weights=random" in msg and "MEDBENCH_RESNET50_WEIGHTS" not in msg


@pytest.mark.slow
def test_imagenet_or_random_row_is_random_init(pneumonia, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    small = {s: (x[:80], y[:80]) for s, (x, y) in pneumonia.items()}
    est = fit(build("resnet50", weights="imagenet-or-random", image_size=32, epochs=2), small)
    assert est.variant_ == "random init" and est.report_info_["transfer_learning"] is False
    assert "note" in est.report_info_["weights"]
    assert est.embedding_params_["weights"]["kind"] == "random"
