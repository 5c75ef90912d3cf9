"""Memory benchmark of loading a large image folder: peak RSS / pixel-array bytes, cold and from the cache.

Generates a ``train/ test/ x NORMAL/ PNEUMONIA/`` folder of :data:`N_IMAGES` 224x224 PNGs (smooth
random images, written in parallel with OpenCV) in a temporary directory, then loads it twice through
``load_dataset("folder:...")`` and computes the dataset fingerprint, each time in a fresh child
process so that its peak RSS (``ru_maxrss``) covers that load only: first with a cold decoded-image
cache (decode into the memory-mapped cache entry), then from the cache. It prints, for both, the peak
RSS, the RSS after imports, and peak RSS divided by the bytes of the ``(N, 224, 224)`` pixel array,
and checks the cached load stays within :data:`CACHED_RATIO_LIMIT` of the pixel array (it used to be
about 3x: an in-memory copy of the cache file, a reorder copy and a ``.tobytes()`` copy). That no copy is
made, and that the cached load has the cold load's fingerprint, is checked at a small size by
tests/test_perf_correctness.py, which CI runs.

Run it (about a minute or two; ~1 GB of pixels, ~0.5 GB of PNGs in the temporary directory):

    pytest tests/benchmarks/test_memory.py -m perf -s
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.perf, pytest.mark.slow]

N_IMAGES = 20_000
SIZE = 224
CACHED_RATIO_LIMIT = 1.3

CHILD = r"""
import json, resource, sys, time
import psutil
from medbench.datasets import load_dataset
after_imports = psutil.Process().memory_info().rss
t0 = time.perf_counter()
ds = load_dataset("folder:" + sys.argv[1], image_size=int(sys.argv[2]))
fp = ds.fingerprint
seconds = time.perf_counter() - t0
print(json.dumps({"peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "after_imports": after_imports, "pixel_bytes": int(ds.images.nbytes), "n": len(ds),
                  "fingerprint": fp, "seconds": seconds, "images_type": type(ds.images).__name__}))
"""


def _write_images(root: Path, n: int) -> None:
    import cv2

    cv2.setNumThreads(1)
    layout = [(s, c) for s in ("train", "test") for c in ("NORMAL", "PNEUMONIA")]
    for s, c in layout:
        (root / s / c).mkdir(parents=True)

    def write(i: int) -> None:
        rng = np.random.default_rng(i)
        small = rng.integers(0, 256, (14, 14), dtype=np.uint8)
        img = cv2.resize(small, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        img = cv2.add(img, rng.integers(0, 8, (SIZE, SIZE), dtype=np.uint8))  # a little texture
        s, c = layout[i % len(layout)]
        cv2.imwrite(str(root / s / c / f"img{i:06d}.png"), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(write, range(n), chunksize=256))


def _load_in_child(root: Path, cache: Path) -> dict:
    env = {**os.environ, "MEDBENCH_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), str(SIZE)], env=env, capture_output=True,
                          text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_peak_memory_of_a_large_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory-bench") / "folder"
    cache = root.parent / "cache"
    _write_images(root, N_IMAGES)
    cold = _load_in_child(root, cache)
    cached = _load_in_child(root, cache)
    assert cold["n"] == cached["n"] == N_IMAGES  # same data both times: tests/test_perf_correctness.py (CI)
    gib = 2**30
    print(f"\n{N_IMAGES} PNG images at {SIZE} px: pixel array {cold['pixel_bytes'] / gib:.2f} GiB")
    for name, r in (("cold (decode + write cache)", cold), ("from cache", cached)):
        ratio = r["peak_rss"] / r["pixel_bytes"]
        over_imports = (r["peak_rss"] - r["after_imports"]) / r["pixel_bytes"]
        print(f"  {name}: peak RSS {r['peak_rss'] / gib:.2f} GiB = {ratio:.2f}x the pixel array "
              f"({over_imports:.2f}x above the {r['after_imports'] / 2**20:.0f} MiB after imports); "
              f"{r['seconds']:.1f} s; images are a {r['images_type']}")
    assert cached["peak_rss"] / cached["pixel_bytes"] <= CACHED_RATIO_LIMIT
