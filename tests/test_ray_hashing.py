"""EngineSpec(hash_on="workers"): content hashes computed by the Ray actors, the driver receiving
only the keys; the same keys, hits and vectors as hashing on the driver, cached items still never
reach an encoding actor, an unreadable image still a clear error."""

from __future__ import annotations

import numpy as np
import pytest
import ray_plugin
import test_ray_engine
from test_ray_engine import PLUGIN, TEXTS, _pngs

from semalign_core import InvalidInputError
from semalign_core.encoding.engines import EngineSpec, encode_dataset

pytestmark = pytest.mark.slow
ray_cluster = test_ray_engine.ray_cluster  # the module-scoped local Ray (a fixture)


def _spec(**kw) -> EngineSpec:
    return EngineSpec("ray", workers=2, plugin_modules=PLUGIN, hash_on="workers", **kw)


def test_keys_hashed_on_workers_keep_cached_items_away_from_encoders(ray_cluster, tmp_path):
    encode_dataset("test-recording", TEXTS[:10], tmp_path / "cache")  # local: driver hashes
    logs = tmp_path / "logs"
    logs.mkdir()
    out = encode_dataset("test-recording", [*TEXTS, TEXTS[3]], tmp_path / "cache",
                         options={"log_dir": logs}, engine=_spec(), shard_size=4)
    assert sorted(ray_plugin.received(logs)) == sorted(TEXTS[10:])
    assert out.metadata["cache"]["hits"] == 11 and out.metadata["cache"]["misses"] == 14
    local = encode_dataset("test-recording", [*TEXTS, TEXTS[3]], tmp_path / "fresh")
    assert out.ids == local.ids
    np.testing.assert_array_equal(out.vectors, local.vectors)
    warm_logs = tmp_path / "warm"
    warm_logs.mkdir()
    warm = encode_dataset("test-recording", TEXTS, tmp_path / "cache",
                          options={"log_dir": warm_logs}, engine=_spec())
    # The actors hashed every item and encoded none.
    assert warm.metadata["cache"]["hits"] == len(TEXTS) and warm.metadata["cache"]["misses"] == 0
    assert warm.metadata["engine"]["workers"] == 2 and ray_plugin.received(warm_logs) == []


def test_image_keys_from_workers_equal_the_drivers_and_errors_stay_clear(ray_cluster, tmp_path):
    pytest.importorskip("torch")
    from semalign_core import list_encoders

    if "torchvision" not in list_encoders():
        pytest.skip("the torchvision plugin is not installed")
    paths = _pngs(tmp_path / "images", 3)
    options = {"model": "squeezenet1_1", "weights": "random", "device": "cpu", "resize": 32,
               "crop": 32}
    local = encode_dataset("torchvision", paths, tmp_path / "cache", options=options)
    remote = encode_dataset("torchvision", paths, tmp_path / "cache", options=options,
                            engine=_spec())
    assert remote.metadata["cache"]["hits"] == 3 and remote.metadata["cache"]["misses"] == 0
    np.testing.assert_array_equal(remote.vectors, local.vectors)
    with pytest.raises(InvalidInputError, match="cannot read image"):
        encode_dataset("torchvision", [*paths, tmp_path / "missing.png"], tmp_path / "cache",
                       options=options, engine=_spec())


def test_hash_on_is_checked():
    with pytest.raises(InvalidInputError, match="hash_on must be one of"):
        EngineSpec("ray", hash_on="gpu")
    with pytest.raises(InvalidInputError, match="'driver' for the local engine"):
        EngineSpec("local", hash_on="workers")
