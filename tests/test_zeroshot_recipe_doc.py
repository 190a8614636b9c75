"""The demo recipe composed from the public API (docs/zeroshot.md) scores exactly like
``semalign run`` on the recipe's config: the runner holds no private copy of any step.

Real data (/work/shared: Kermany, Open-i, SqueezeNet; all-MiniLM-L6-v2): slow, shared_data.
Embeddings are cached as in tests/test_zeroshot_real.py (``$SEMALIGN_ZEROSHOT_CACHE`` or pytest's
cache folder), so with a warm cache both sides take seconds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytestmark = [pytest.mark.slow, pytest.mark.torch, pytest.mark.shared_data]

DOC = Path(__file__).resolve().parents[1] / "docs" / "zeroshot.md"
SEEDS = (0, 1, 2, 3, 4)


def _composed_recipe():
    """The ``pneumonia_recipe`` function defined by the docs' python block."""
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(), re.S | re.M)
    block = next(b for b in blocks if "def pneumonia_recipe(" in b)
    namespace: dict[str, object] = {}
    exec(compile(block, "docs/zeroshot.md (composed recipe)", "exec"), namespace)
    return namespace["pneumonia_recipe"]


def test_composed_recipe_equals_semalign_run(request, tmp_path):
    pytest.importorskip("faiss")
    pytest.importorskip("sklearn")
    from semalign_core import UnknownPluginError, get_anchor_selector, get_encoder, get_solver
    from semalign_core.data.sources import find_shared_dir, shared_demo_inputs

    shared = find_shared_dir(required=False)
    if shared is None or not (shared / "data" / "kermany-cxr" / "labels.csv").is_file():
        pytest.skip("shared data not found (set SEMALIGN_SHARED_DIR)")
    try:
        get_encoder("torchvision-squeezenet1-1"), get_encoder("st-all-minilm-l6-v2-text")
        get_solver("affine"), get_anchor_selector("stratified")
    except UnknownPluginError as exc:
        pytest.skip(f"plugins not installed: {exc}")
    from semalign_core.experiments.config import parse_config
    from semalign_core.experiments.recipes import pneumonia_zero_shot_config
    from semalign_core.experiments.runner import run_experiment

    env = os.environ.get("SEMALIGN_ZEROSHOT_CACHE")
    cache = Path(env) if env else Path(request.config.cache.mkdir("semalign-zeroshot-real"))
    inputs = shared_demo_inputs(shared)
    config = parse_config(pneumonia_zero_shot_config(
        kermany=inputs.kermany, openi_reports=inputs.openi_reports,
        vision_weights=inputs.vision_weights, output_dir=tmp_path, cache_dir=cache,
        anchors=100, seeds=list(SEEDS), bootstrap=1))
    run = run_experiment(config, write_report=False)
    composed = _composed_recipe()(inputs.kermany, inputs.openi_reports, inputs.vision_weights,
                                  cache, anchors=100, seeds=SEEDS)
    assert sorted(composed) == list(SEEDS)
    for seed in SEEDS:
        from_run = np.asarray(run.curves[f"100/{seed}"]["y_score"], dtype=np.float64)
        np.testing.assert_allclose(composed[seed], from_run, rtol=0, atol=1e-6,
                                   err_msg=f"seed {seed}")
        assert np.std(from_run) > 0.01  # real scores, not a constant that would match anything
