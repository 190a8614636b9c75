"""The Ray engine's actor-pool arguments, on a stand-in for ``ray`` (fast: no Ray started)."""

from __future__ import annotations

import types
import warnings

import pytest

from semalign_core.encoding.ray_engine import _pool_shape


def fake_ray(*nodes: dict[str, float], dead: tuple[dict[str, float], ...] = ()):
    total: dict[str, float] = {}
    for node in nodes:
        for key, value in node.items():
            total[key] = total.get(key, 0) + value
    listed = [{"Alive": True, "Resources": n} for n in nodes]
    listed += [{"Alive": False, "Resources": n} for n in dead]
    return types.SimpleNamespace(cluster_resources=lambda: total, nodes=lambda: listed)


def test_cpu_pool_defaults_to_one_actor_per_threads_cpus():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shape = _pool_shape(fake_ray({"CPU": 8}), None, 2)
    assert (shape.workers, shape.num_cpus, shape.num_gpus) == (4, 2, 0)


def test_gpu_cluster_gets_one_gpu_per_actor_and_an_actor_per_gpu():
    shape = _pool_shape(fake_ray({"CPU": 16, "GPU": 4}, {"CPU": 16, "GPU": 4}), None, 1)
    assert (shape.workers, shape.num_gpus, shape.num_cpus) == (8, 1, 1)


def test_no_node_large_enough_warns_at_once_naming_the_fix():
    with pytest.warns(UserWarning, match=r"4 CPU\(s\).*largest node has 2.*lower --threads"):
        _pool_shape(fake_ray({"CPU": 2}, {"CPU": 2}), 1, 4)  # 4 CPUs in all, 2 per node


def test_a_dead_node_does_not_count():
    with pytest.warns(UserWarning, match="can host one encoding actor"):
        _pool_shape(fake_ray({"CPU": 1}, dead=({"CPU": 8},)), 1, 2)


def test_gpu_actor_needs_a_node_with_a_gpu_and_the_cpus():
    with pytest.warns(UserWarning, match="and a GPU"):
        _pool_shape(fake_ray({"CPU": 1, "GPU": 1}, {"CPU": 8}), 1, 2)
