"""encode_dataset on Ray: same vectors as local, resume after a kill, cache hits never shipped,
worker deaths retried, skip_errors as locally. One local Ray (2 CPUs) serves the module."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import ray_plugin
from local_ray import local_ray

from semalign_core import InvalidInputError, register_plugin, unregister_plugin
from semalign_core.encoding import cache as cache_module
from semalign_core.encoding import ray_engine
from semalign_core.encoding.engines import EngineSpec, encode_dataset
from semalign_core.fileio import read_arrays

pytestmark = pytest.mark.slow

TESTS_DIR = Path(__file__).resolve().parent
TEXTS = [f"finding {i} in the {'left' if i % 2 else 'right'} lung, grade {i % 5}"
         for i in range(24)]
PLUGIN = ("ray_plugin",)


def _worker_env() -> dict[str, dict[str, str]]:
    # Ray workers import ray_plugin (and its helpers module) from the tests folder.
    path = os.pathsep.join(p for p in (str(TESTS_DIR), os.environ.get("PYTHONPATH")) if p)
    return {"env_vars": {"PYTHONPATH": path}}


@pytest.fixture(scope="module")
def ray_cluster():
    for ray in local_ray(runtime_env=_worker_env()):
        register_plugin(ray_plugin, name="ray_plugin")
        try:
            yield ray
        finally:
            unregister_plugin("ray_plugin")


def _ray(workers: int = 2) -> EngineSpec:
    return EngineSpec("ray", workers=workers, plugin_modules=PLUGIN)


def _shard_keys(cache_dir: Path) -> list[str]:
    """Every key of every shard on disk (a key written twice appears twice)."""
    keys = []
    for shard in sorted(Path(cache_dir).glob("*/shard-*.safetensors")):
        arrays, _ = read_arrays(shard, format=cache_module._FORMAT,
                                max_version=cache_module._VERSION)
        keys += [bytes(k).hex() for k in arrays["keys"]]
    return keys


def test_ray_equals_local_on_real_images(ray_cluster, shared, tmp_path):
    pytest.importorskip("torch")
    from semalign_core import list_encoders

    weights = shared / "models" / "squeezenet1_1_imagenet.safetensors"
    if "torchvision-squeezenet1_1" not in list_encoders(aliases=True) or not weights.is_file():
        pytest.skip("the torchvision plugin or the SqueezeNet weights are missing")
    folder = shared / "data" / "kermany-cxr" / "test"
    images = sorted(folder.glob("normal/*.jpeg"))[:6] + sorted(folder.glob("pneumonia/*.jpeg"))[:6]
    options = {"weights": str(weights), "device": "cpu", "autocast": False}
    local = encode_dataset("torchvision-squeezenet1-1", images, tmp_path / "local",
                           options=options, batch_size=4)
    distributed = encode_dataset("torchvision-squeezenet1-1", images, tmp_path / "ray",
                                 options=options, engine="ray", workers=2, batch_size=4,
                                 shard_size=3)
    assert distributed.ids == local.ids == tuple(str(p) for p in images)
    assert distributed.fingerprint == local.fingerprint
    np.testing.assert_allclose(distributed.vectors, local.vectors, rtol=1e-5, atol=1e-5)
    assert distributed.metadata["cache"]["shards_written"] == 4
    assert distributed.metadata["engine"] == {"name": "ray", "workers": 2}
    # The Ray run filled the same cache a local run reads.
    again = encode_dataset("torchvision-squeezenet1-1", images, tmp_path / "ray", options=options)
    assert again.metadata["cache"]["hits"] == len(images)
    np.testing.assert_array_equal(again.vectors, distributed.vectors)


def test_cached_items_never_reach_a_worker(ray_cluster, tmp_path):
    encode_dataset("test-recording", TEXTS[:10], tmp_path / "cache")  # local run fills the cache
    logs = tmp_path / "logs"
    logs.mkdir()
    calls = []
    out = encode_dataset("test-recording", TEXTS, tmp_path / "cache", options={"log_dir": logs},
                         engine=_ray(), shard_size=4, on_shard=lambda *a: calls.append(a))
    assert sorted(ray_plugin.received(logs)) == sorted(TEXTS[10:])
    assert calls[-1] == (14, 14) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert out.metadata["cache"]["hits"] == 10 and out.metadata["cache"]["misses"] == 14
    assert out.ids == tuple(str(i) for i in range(len(TEXTS)))
    np.testing.assert_array_equal(out.vectors, encode_dataset("test-recording", TEXTS,
                                                              tmp_path / "fresh").vectors)


def test_worker_death_is_retried_without_loss_or_duplicates(ray_cluster, tmp_path):
    marker, logs, block = tmp_path / "died", tmp_path / "logs", 4
    logs.mkdir()
    out = encode_dataset("test-recording", TEXTS, tmp_path / "cache",
                         options={"log_dir": logs, "die_once": marker}, engine=_ray(),
                         shard_size=block)
    assert marker.is_file()  # an actor process did die mid-task
    received = Counter(ray_plugin.received(logs))
    assert set(received) == set(TEXTS)  # its task ran again on the restarted actor
    # Ray's retries run a task at least once: the dead actor's other queued task may have
    # finished with its reply lost in the crash, so Ray runs it again too. At most the blocks
    # queued on that actor are encoded twice; none is written twice.
    again = [text for text, count in received.items() if count > 1]
    assert max(received.values()) <= 2 and len(again) <= ray_engine._DEPTH * block
    keys = _shard_keys(tmp_path / "cache")
    assert len(keys) == len(set(keys)) == len(TEXTS)
    np.testing.assert_array_equal(out.vectors, encode_dataset("test-recording", TEXTS,
                                                              tmp_path / "fresh").vectors)


def test_windows_on_ray_encode_each_content_once(ray_cluster, monkeypatch, tmp_path):
    from semalign_core.encoding import cache_run

    monkeypatch.setattr(cache_run, "WINDOW_SHARDS", 2)  # windows of 6 items (driver side)
    texts = [TEXTS[i % 10] for i in range(40)]  # 10 contents, recurring in every window
    logs = tmp_path / "logs"
    logs.mkdir()
    out = encode_dataset("test-recording", texts, tmp_path / "cache", options={"log_dir": logs},
                         engine=_ray(), shard_size=3)
    assert sorted(ray_plugin.received(logs)) == sorted(set(texts))  # never twice, though the
    # next window is planned while the previous one's tasks still run
    assert out.metadata["cache"]["misses"] == 10 and out.metadata["cache"]["hits"] == 30
    keys = _shard_keys(tmp_path / "cache")
    assert len(keys) == len(set(keys)) == 10
    np.testing.assert_array_equal(out.vectors, encode_dataset("test-recording", texts,
                                                              tmp_path / "fresh").vectors)


def test_more_workers_than_the_cluster_hosts_still_finishes(ray_cluster, tmp_path):
    # 4 one-CPU actors asked of 2 CPUs: two never start, and no task may wait on them.
    out = encode_dataset("test-recording", TEXTS, tmp_path / "cache", engine=_ray(workers=4),
                         shard_size=2)
    assert out.metadata["engine"] == {"name": "ray", "workers": 4}
    np.testing.assert_array_equal(out.vectors, encode_dataset("test-recording", TEXTS,
                                                              tmp_path / "fresh").vectors)


_DRIVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import ray, ray_plugin
    from semalign_core import register_plugin
    from semalign_core.encoding.engines import EngineSpec, encode_dataset
    ray.init(address={address!r}, log_to_driver=False, runtime_env={env!r})
    register_plugin(ray_plugin, name="ray_plugin")
    encode_dataset("test-recording", {texts!r}, {cache!r},
                   options={{"sleep": 0.5, "log_dir": {logs!r}}},
                   engine=EngineSpec("ray", workers=2, plugin_modules=("ray_plugin",)),
                   shard_size=2)
""")


def test_killed_ray_run_resumes_without_loss_or_duplicates(ray_cluster, tmp_path):
    cache, logs, resumed_logs = tmp_path / "cache", tmp_path / "logs", tmp_path / "resumed"
    logs.mkdir()
    resumed_logs.mkdir()
    script = _DRIVER.format(tests=str(TESTS_DIR), address=ray_cluster.get_runtime_context()
                            .gcs_address, env=_worker_env(), texts=TEXTS, cache=str(cache),
                            logs=str(logs))
    driver = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while len(_shard_keys(cache)) < 4:
            assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the driver wrote no shards in 120 s"
            time.sleep(0.2)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the whole driver, mid-run
        driver.wait()
    done = set(_shard_keys(cache))
    assert 4 <= len(done) < len(TEXTS)
    out = encode_dataset("test-recording", TEXTS, cache, options={"log_dir": resumed_logs},
                         engine=_ray(), shard_size=2)
    assert out.metadata["cache"]["hits"] == len(done)
    resumed = ray_plugin.received(resumed_logs)
    assert len(resumed) == len(TEXTS) - len(done)  # only the missing items were encoded
    keys = _shard_keys(cache)
    assert len(keys) == len(set(keys)) == len(TEXTS)
    np.testing.assert_array_equal(out.vectors, encode_dataset("test-recording", TEXTS,
                                                              tmp_path / "fresh").vectors)


def test_bad_image_follows_skip_errors(ray_cluster, tmp_path):
    pytest.importorskip("torch")
    from PIL import Image

    from semalign_core import ImageLoadError, list_encoders

    if "torchvision" not in list_encoders():
        pytest.skip("the torchvision plugin is not installed")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        paths.append(tmp_path / f"img{i}.png")
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(paths[-1])
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    items = [*paths[:2], bad, *paths[2:]]
    options = {"model": "squeezenet1_1", "weights": "random", "device": "cpu", "resize": 32,
               "crop": 32}
    with pytest.raises(ImageLoadError, match="broken.png"):
        encode_dataset("torchvision", items, tmp_path / "c1", options=options, engine="ray",
                       workers=1, shard_size=5)
    skip = {**options, "skip_errors": True}
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        remote = encode_dataset("torchvision", items, tmp_path / "c2", options=skip,
                                engine="ray", workers=2, shard_size=2)
    with pytest.warns(UserWarning, match="skipping unreadable image"):
        local = encode_dataset("torchvision", items, tmp_path / "c3", options=skip)
    assert remote.ids == local.ids == tuple(str(p) for p in paths)
    assert remote.metadata["skipped"] == local.metadata["skipped"] == [str(bad)]
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=1e-5, atol=1e-5)


def test_engine_arguments_are_checked(tmp_path):
    from helpers import HashTextEncoder

    with pytest.raises(InvalidInputError, match="engine must be one of"):
        encode_dataset("test-hash", TEXTS, tmp_path, engine="spark")
    with pytest.raises(InvalidInputError, match="workers must be a positive int"):
        EngineSpec("ray", workers=0)
    with pytest.raises(InvalidInputError, match="apply to engine 'ray'"):
        EngineSpec("local", workers=4)
    with pytest.raises(InvalidInputError, match="registered name"):
        encode_dataset(HashTextEncoder(), TEXTS, tmp_path, engine="ray")
    local = encode_dataset(HashTextEncoder(), TEXTS, tmp_path)
    assert local.metadata["engine"] == {"name": "local"} and len(local) == len(TEXTS)


def _pngs(folder: Path, n: int) -> list[Path]:
    from PIL import Image

    rng = np.random.default_rng(1)
    folder.mkdir(parents=True)
    paths = [folder / f"img{i}.png" for i in range(n)]
    for path in paths:
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
    return paths


def test_cli_encode_on_ray_matches_local(ray_cluster, tmp_path):
    pytest.importorskip("torch")
    from semalign_core import Embeddings, list_encoders
    from semalign_core.cli import main

    if "torchvision" not in list_encoders():
        pytest.skip("the torchvision plugin is not installed")
    _pngs(tmp_path / "images" / "normal", 3)
    common = ["encode", "--encoder", "torchvision", "--option", "model=squeezenet1_1",
              "--option", "weights=random", "--option", "device=cpu", "--option", "resize=32",
              "--option", "crop=32", "--manifest", str(tmp_path / "images"), "--quiet"]
    assert main([*common, "-o", str(tmp_path / "local.safetensors")]) == 0
    assert main([*common, "-o", str(tmp_path / "ray.safetensors"), "--engine", "ray",
                 "--workers", "2", "--cache-dir", str(tmp_path / "cache")]) == 0
    local = Embeddings.load(tmp_path / "local.safetensors")
    remote = Embeddings.load(tmp_path / "ray.safetensors")
    assert remote.ids == local.ids and len(local) == 3
    np.testing.assert_allclose(remote.vectors, local.vectors, rtol=1e-5, atol=1e-5)


def test_cli_engine_flags(capsys, tmp_path):
    from semalign_core.cli import main

    with pytest.raises(SystemExit):
        main(["encode", "--help"])
    assert "--engine ray --workers 4 --address" in capsys.readouterr().out
    texts = tmp_path / "m.csv"
    texts.write_text("id,text\na,clear lungs\n")
    out = str(tmp_path / "o.safetensors")
    assert main(["encode", "--encoder", "x", "--manifest", str(texts), "-o", out,
                 "--engine", "ray"]) == 1
    assert "give --cache-dir" in capsys.readouterr().err
    assert main(["encode", "--encoder", "x", "--manifest", str(texts), "-o", out,
                 "--workers", "2"]) == 1
    assert "apply to engine 'ray'" in capsys.readouterr().err


def test_config_engine_section():
    pytest.importorskip("pydantic")
    from semalign_core.experiments.config import EngineConfig

    assert EngineConfig().name == "local"
    ray_engine = EngineConfig.model_validate({"name": "ray", "workers": 4, "address": "auto"})
    assert (ray_engine.workers, ray_engine.address, ray_engine.threads) == (4, "auto", 1)
    with pytest.raises(ValueError, match="apply to engine 'ray'"):
        EngineConfig.model_validate({"name": "local", "workers": 4})
    with pytest.raises(ValueError):
        EngineConfig.model_validate({"name": "dask"})


def test_shards_translate_and_classify_on_ray(ray_cluster, tmp_path):
    pytest.importorskip("pyarrow")
    pytest.importorskip("faiss")
    import pyarrow as pa
    import pyarrow.parquet as pq
    from helpers import HashTextEncoder
    from test_streaming import PROMPTS, read_vectors, shards, world

    from semalign_core.zeroshot import ZeroShotClassifier
    from semalign_core.zeroshot.streaming import classify_shards, translate_shards

    translator, _, X, ids = world(n=600)
    sources = shards(tmp_path / "in", X, ids, [200, 200, 200])
    out = translate_shards(translator, sources, tmp_path / "t", engine="ray", workers=2,
                           batch_size=64)
    got_ids, V = read_vectors(out)
    assert got_ids == ids
    np.testing.assert_allclose(V, translator.transform(X), rtol=1e-5, atol=1e-6)
    clf = ZeroShotClassifier(translator, HashTextEncoder(16), PROMPTS, device="cpu")
    labelled = classify_shards(clf, sources, tmp_path / "z", engine="ray", workers=2)
    table = pa.concat_tables([pq.read_table(p) for p in labelled]).to_pandas()
    assert table["id"].tolist() == ids
    np.testing.assert_allclose(table[["p_normal", "p_pneumonia"]].to_numpy(),
                               clf.predict_proba(X), rtol=1e-6, atol=1e-9)
