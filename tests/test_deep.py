"""The deep pipelines (``cnn``, ``resnet50``): registration and options, short real fits on a small
PneumoniaMNIST subset, seed reproducibility, multi-class, the embeddings cache, and ResNet50 weights
resolution (local file + hash checks, the one-line refusal when ImageNet weights cannot be had, the
explicit random-init fallback). No ImageNet weights exist on the test machines: nothing here needs them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medbench.core.errors import MedbenchError
from medbench.features import cache
from medbench.models import registry

# Keras' own save_weights under NumPy 2 (not ours): keep the report readable.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy:DeprecationWarning")

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pneumoniamnist.npz"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pneumonia():
    """300 train / 100 val / 100 test real PneumoniaMNIST images (both classes in each)."""
    if not DATA.exists():
        pytest.skip(f"{DATA} not present")
    d = np.load(DATA)
    take = {"train": 300, "val": 100, "test": 100}
    return {s: (d[f"{s}_images"][:n], d[f"{s}_labels"][:n].ravel().astype(int)) for s, n in take.items()}


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Own embeddings cache, no user weights file, and an unreachable weights URL (fails at once)."""
    monkeypatch.setenv("MEDBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("MEDBENCH_NO_CACHE", raising=False)
    monkeypatch.delenv("MEDBENCH_RESNET50_WEIGHTS", raising=False)
    from medbench.models import resnet

    monkeypatch.setattr(resnet, "WEIGHTS_URL", "http://127.0.0.1:9/")


def build(name: str, n_classes: int = 2, seed: int = 0, **options):
    ctx = registry.BuildContext(n_classes=n_classes, image_shape=(28, 28), seed=seed,
                                options={k: str(v) for k, v in options.items()})
    return registry.get(name).build(ctx)


def fit(pipe, data, y=None, y_val=None):
    (x_tr, y_tr), (x_val, y_val0) = data["train"], data["val"]
    est = pipe.steps[-1][1]
    est.fit(x_tr, y_tr if y is None else y, validation_data=(x_val, y_val0 if y_val is None else y_val))
    return est


def three_classes(y: np.ndarray) -> np.ndarray:
    """A 3-class labelling of real images: pneumonia split in two by index parity."""
    return np.where((y == 1) & (np.arange(len(y)) % 2 == 1), 2, y)


# -- registration and options ---------------------------------------------------------------------

def test_import_does_not_load_keras():
    code = ("import sys, models.deep; from models import registry; registry.all_pipelines(); "
            "print(sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registered_as_deep_one_step_pipelines():
    for name in ("cnn", "resnet50"):
        spec = registry.get(name)
        assert spec.family == "deep" and spec.default
        pipe = spec.build(registry.BuildContext(n_classes=3, image_shape=(224, 224), seed=7))
        assert [n for n, _ in pipe.steps] == [name]
        est = pipe.steps[-1][1]
        assert est.random_state == 7 and est.n_classes == 3


def test_options_are_parsed():
    cnn = build("cnn", epochs=3, image_size=20, batch_size=16, augment="off").steps[-1][1]
    assert (cnn.epochs, cnn.image_size, cnn.batch_size, cnn.augment) == (3, 20, 16, False)
    assert build("cnn", image_size="auto").steps[-1][1].image_size is None
    rn = build("resnet50", weights="RANDOM", finetune=1, image_size=48).steps[-1][1]
    assert (rn.weights, rn.strategy, rn.image_size) == ("random", "finetune", 48)
    assert build("resnet50", weights="/x/My.h5").steps[-1][1].weights == "/x/My.h5"
    assert build("resnet50", strategy="frozen").steps[-1][1].strategy == "frozen"


@pytest.mark.parametrize("name, key, value, needle", [
    ("cnn", "epochs", "zero", "cnn.epochs=zero"),
    ("cnn", "epochs", "0", "cnn.epochs=0"),
    ("cnn", "augment", "maybe", "cnn.augment=maybe"),
    ("cnn", "colour", "red", "cnn.colour=red"),
    ("resnet50", "strategy", "full", "resnet50.strategy=full"),
    ("resnet50", "image_size", "16", "resnet50.image_size=16"),
    ("resnet50", "weights_sha256", "abc", "resnet50.weights_sha256=abc"),
])
def test_bad_options_are_one_line_errors(name, key, value, needle):
    with pytest.raises(MedbenchError) as err:
        build(name, **{key: value})
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_conflicting_strategy_options():
    with pytest.raises(MedbenchError, match="conflicting"):
        build("resnet50", strategy="frozen", finetune="1")


# -- cnn --------------------------------------------------------------------------------------------

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


def test_cnn_same_seed_same_probabilities(pneumonia):
    small = {s: (x[:160], y[:160]) for s, (x, y) in pneumonia.items()}
    a = fit(build("cnn", seed=3, epochs=1, batch_size=32), small).predict_proba(small["test"][0])
    b = fit(build("cnn", seed=3, epochs=1, batch_size=32), small).predict_proba(small["test"][0])
    assert np.array_equal(a, b)


def test_cnn_multiclass_and_resize(pneumonia):
    y3, yv3 = three_classes(pneumonia["train"][1]), three_classes(pneumonia["val"][1])
    est = fit(build("cnn", n_classes=3, epochs=1, image_size=40), pneumonia, y3, yv3)
    proba = est.predict_proba(pneumonia["test"][0])
    assert proba.shape == (100, 3) and np.allclose(proba.sum(1), 1)
    assert list(est.classes_) == [0, 1, 2] and est.report_info_["input_size"] == [40, 40]


# -- resnet50 ----------------------------------------------------------------------------------------

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


def test_resnet50_multiclass(pneumonia):
    y3, yv3 = three_classes(pneumonia["train"][1]), three_classes(pneumonia["val"][1])
    est = fit(build("resnet50", n_classes=3, weights="random", image_size=32, epochs=5), pneumonia, y3, yv3)
    proba = est.predict_proba(pneumonia["test"][0])
    assert proba.shape == (100, 3) and np.allclose(proba.sum(1), 1) and est.variant_ == "random init"


def test_resnet50_finetune_runs(pneumonia):
    small = {s: (x[:64], y[:64]) for s, (x, y) in pneumonia.items()}
    est = fit(build("resnet50", weights="random", image_size=32, epochs=2, finetune=1, finetune_epochs=1,
                    batch_size=32), small)
    info = est.report_info_
    assert info["finetune"]["epochs_run"] == 1 and info["finetune"]["trainable_params"] > 0
    assert est.predict_proba(small["test"][0]).shape == (64, 2)


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


def test_resnet50_local_weights_file_is_verified_and_loaded(pneumonia, weights_file):
    path, sha, kernel = weights_file
    est = fit(build("resnet50", weights=str(path), weights_sha256=sha, image_size=32, epochs=3), pneumonia)
    assert np.array_equal(est.backbone_.get_layer("conv1_conv").kernel.numpy(), kernel)
    assert est.variant_ is None and est.report_info_["transfer_learning"] is True
    assert est.report_info_["weights"]["sha256"] == sha
    assert est.report_info_["embedding_cache_key"]["weights"] == sha


def test_resnet50_imagenet_from_keras_cache_in_official_format(tmp_path, monkeypatch):
    """A file in Keras' cache with the expected MD5 is used as is (no download); the legacy HDF5 layout
    of the official notop file loads into a backbone of another input size."""
    h5py = pytest.importorskip("h5py")
    from keras.src.legacy.saving import legacy_h5_format

    from medbench.models import resnet
    from medbench.models.keras_base import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(5)
    model = keras.applications.ResNet50(weights=None, include_top=False, pooling="avg",
                                        input_shape=(32, 32, 3))
    target = tmp_path / "keras_home" / "models" / resnet.NOTOP_FILE
    target.parent.mkdir(parents=True)
    with h5py.File(target, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(resnet, "published_notop_md5", lambda: hashlib.md5(target.read_bytes()).hexdigest())
    weights = resnet.resolve_weights("imagenet")
    assert (weights.kind, weights.source, weights.path) == ("imagenet", "keras cache", str(target))
    backbone = resnet.build_backbone(weights, 64)
    name = "conv5_block3_3_conv"
    assert np.array_equal(backbone.get_layer(name).kernel.numpy(), model.get_layer(name).kernel.numpy())


def test_resnet50_wrong_hash_is_refused(weights_file, monkeypatch):
    from medbench.models.resnet import resolve_weights

    path, sha, _ = weights_file
    wrong = "0" * 64
    with pytest.raises(MedbenchError) as err:
        resolve_weights(str(path), wrong)
    msg = str(err.value)
    assert str(path) in msg and wrong in msg and sha in msg and "\n" not in msg
    # Without weights_sha256 the file must be the official one (Keras' published MD5): it is not.
    with pytest.raises(MedbenchError, match="4d473c1dd8becc155b73f8504c6f6626"):
        resolve_weights(str(path))
    monkeypatch.setenv("MEDBENCH_RESNET50_WEIGHTS", str(path))
    with pytest.raises(MedbenchError, match="MEDBENCH_RESNET50_WEIGHTS"):
        resolve_weights("imagenet", wrong)
    assert resolve_weights("imagenet", sha).sha256 == sha  # the env var's file, hash accepted
    with pytest.raises(MedbenchError, match="does not exist"):
        resolve_weights(str(path) + ".missing")


def test_resnet50_without_imagenet_weights_refuses_in_one_line(pneumonia, tmp_path, monkeypatch, capsys):
    from medbench.models.resnet import NOTOP_FILE, resolve_weights

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    with pytest.raises(MedbenchError) as err:
        fit(build("resnet50"), pneumonia)  # default weights=imagenet
    msg = str(err.value)
    assert "\n" not in msg and NOTOP_FILE in msg and str(tmp_path / "keras_home" / "models") in msg
    assert "MEDBENCH_RESNET50_WEIGHTS" in msg and "resnet50.weights=random" in msg
    # imagenet-or-random: an explicit, announced fallback to random init.
    weights = resolve_weights("imagenet-or-random")
    assert weights.is_random and "unavailable" in weights.source
    assert "falls back to random init" in capsys.readouterr().err


def test_resnet50_imagenet_or_random_row_is_random_init(pneumonia, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    small = {s: (x[:80], y[:80]) for s, (x, y) in pneumonia.items()}
    est = fit(build("resnet50", weights="imagenet-or-random", image_size=32, epochs=2), small)
    assert est.variant_ == "random init" and est.report_info_["transfer_learning"] is False
    assert "note" in est.report_info_["weights"]
