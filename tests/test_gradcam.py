"""Grad-CAM on the active Keras backend (TensorFlow here, JAX under ``tox -e jax``), on real PneumoniaMNIST
images: equal to its closed form for a global-average-pooling + linear head (the class activation map,
Selvaraju et al. 2017, section 3.1) - computed from the feature maps and the output layer's weights, no
gradient - and a CNN job's error gallery carries the heat maps."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from medbench.core import settings
from medbench.models import gradcam
from medbench.models import keras_base as kb
from medbench.models.cnn import KerasCNNClassifier
from medbench.models.transfer import KerasTransferClassifier
from medbench.running.runner import Job, run_job

pytestmark = [pytest.mark.deep, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_grad_cam_equals_the_class_activation_map(pneumonia_small, pneumonia_small_split):
    ds, split = pneumonia_small, pneumonia_small_split
    x, y = ds.images[split.train], ds.labels[split.train]
    est = KerasCNNClassifier(epochs=1, batch_size=32, verbose=0).fit(x, y)
    images = ds.images[split.test][:4]
    classes = np.array([0, 1, 1, 0])
    cam, info = gradcam.grad_cam(est, images, classes)
    ref = gradcam.class_activation_map(est, images, classes)
    assert info["backend"] == settings.keras_backend() and info["layer"].endswith("_relu")
    assert cam.shape == ref.shape == (4, *info["grid"]) and cam.max() == pytest.approx(1.0)
    np.testing.assert_allclose(cam, ref, atol=1e-4)
    # the other class's map differs: the gradient really depends on the class asked for
    assert not np.allclose(cam, gradcam.class_activation_map(est, images, 1 - classes), atol=1e-3)
    # the split into features and head reproduces the model's own probabilities
    features, head, _ = gradcam.parts(est)
    z = np.asarray(head(features(images[..., None])), dtype=np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), est.predict_proba(images), atol=1e-4)


def test_cnn_job_gallery_has_grad_cam_pictures(pneumonia_small, pneumonia_small_split, tmp_path):
    rec = run_job(pneumonia_small, pneumonia_small_split, Job("cnn", 0, {"cnn__epochs": "1"}), tmp_path, n_jobs=1)
    g = rec["gallery"]
    assert rec["status"] == "ok" and g["note"] is None, g.get("note")
    assert g["explanation"]["kind"] == "gradcam" and g["explanation"]["backend"] == settings.keras_backend()
    maps = [it["explanation_image"] for it in g["items"] if it["explanation_image"]]
    assert len(maps) == 3 and all(m.endswith("-gradcam.png") for m in maps)
    img = np.asarray(Image.open(tmp_path / maps[0]).convert("RGB"), dtype=np.int32)
    assert img.shape == (96, 96, 3) and (img.max(axis=2) - img.min(axis=2)).max() > 60  # coloured heat map
    # and, like every pipeline, an occlusion map of the same images (model-agnostic, through predict_proba)
    occ = [it["occlusion_image"] for it in g["items"] if it.get("occlusion_image")]
    assert len(occ) == 3 and g["occlusion"]["note"] is None and g["occlusion"]["copies"] == 49
    assert all((tmp_path / o).is_file() and o in g["sha256"] for o in occ)


def test_grad_cam_of_a_transfer_model_equals_its_closed_form(pneumonia_small, pneumonia_small_split):
    """ResNet50 (random weights: no download; frozen backbone) at 64 px: conv5's 2 x 2 grid, then average
    pooling, the head's standardisation and a Dense layer. Closed form: ReLU(sum_k W_kc / sd_k A_k)."""
    keras = kb.import_keras()
    ds, split = pneumonia_small, pneumonia_small_split
    tr, va = split.train, split.val
    est = KerasTransferClassifier(weights="random", image_size=64, epochs=5, mixed_precision=False).fit(
        ds.images[tr], ds.labels[tr], validation_data=(ds.images[va], ds.labels[va]))
    x, classes = ds.images[split.test][:4], np.array([0, 1, 1, 0])
    cam, info = gradcam.grad_cam(est, x, classes)
    assert info["layer"] == "conv5_block3_out" and info["grid"] == [2, 2]
    features, head, _ = gradcam.parts(est)
    a = keras.ops.convert_to_numpy(features(kb.as_images(x))).astype(np.float64)
    sd = np.maximum(np.sqrt(keras.ops.convert_to_numpy(est.head_.get_layer("standardise").variance).ravel()),
                    keras.backend.epsilon())
    w = keras.ops.convert_to_numpy(est.head_.get_layer("probs").kernel).astype(np.float64)[:, classes].T / sd
    ref = np.maximum(np.einsum("nhwk,nk->nhw", a, w), 0.0)
    peak = ref.reshape(len(ref), -1).max(axis=1)[:, None, None]
    ref = np.divide(ref, peak, out=np.zeros_like(ref), where=peak > 0)
    np.testing.assert_allclose(cam, ref, atol=1e-4)
    z = np.asarray(keras.ops.convert_to_numpy(head(features(kb.as_images(x)))), dtype=np.float64)
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(p / p.sum(1, keepdims=True), est.predict_proba(x), atol=1e-4)
