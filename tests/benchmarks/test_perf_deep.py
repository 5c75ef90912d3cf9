"""Timing micro-benchmarks of deep-model inference (pytest-benchmark): the ``cnn`` and ``resnet50``
pipelines' ``predict_proba`` on a batch of 64 real PneumoniaMNIST images, caches off.

The models are built through the pipeline registry, as ``medbench run`` builds them, and fitted for
one epoch on 256 images (inference time does not depend on how well a model is trained); ResNet50
uses random weights (no download). Skipped in the normal test run (TensorFlow start-up would
dominate it): ``tox -e perf`` or ``pytest -m perf --benchmark-enable tests/benchmarks`` times them.
"""

from __future__ import annotations

import numpy as np
import pytest

from medbench.features import cache

pytestmark = [pytest.mark.perf,  # Keras on NumPy 2 warns on every predict; nothing medbench can change
              pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")]
N_TRAIN, N_VAL, BATCH = 256, 64, 64
CASES = [("cnn", {"epochs": 1}), ("resnet50", {"weights": "random", "epochs": 1})]


@pytest.fixture(scope="module", autouse=True)
def _only_when_timed(request):
    cfg = request.config
    disabled = cfg.getoption("benchmark_disable", False) and not cfg.getoption("benchmark_enable", False)
    if disabled and "perf" not in (cfg.getoption("markexpr", "") or ""):
        pytest.skip("deep inference benchmarks load TensorFlow: timed by tox -e perf "
                    "(or -m perf --benchmark-enable)")


@pytest.fixture(scope="module")
def data(pneumonia_parts) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return pneumonia_parts(N_TRAIN, N_VAL, BATCH)


def _fitted(pipeline: str, params: dict, data):
    from medbench.models import registry

    ctx = registry.BuildContext(n_classes=2, image_shape=(28, 28), seed=0, n_jobs=1)
    model = registry.get(pipeline).build(ctx).steps[-1][1].set_params(**params)
    with cache.disabled():
        model.fit(*data["train"], validation_data=data["val"])
    return model


@pytest.mark.parametrize("pipeline, params", CASES, ids=[c[0] for c in CASES])
def test_predict_proba_batch(benchmark, data, pipeline, params):
    model = _fitted(pipeline, params, data)
    x = data["test"][0]
    with cache.disabled():
        model.predict_proba(x[:2])  # warm-up: graph tracing is not inference
        proba = benchmark(model.predict_proba, x)
    assert proba.shape == (BATCH, 2)
    assert np.allclose(proba.sum(axis=1), 1, atol=1e-4)
