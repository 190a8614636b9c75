"""semalign-anchors: choose which paired items become anchors.

Registered selectors (``semalign_core.get_anchor_selector(name, **params)``):

``random``      uniform without replacement
``kmeans``      FAISS k-means (k = n) on L2-normalised source embeddings; nearest real item each
``stratified``  as even as possible across labels, uniform within a label
``fps``         farthest-point sampling from a seeded start

Every selector is deterministic for a given ``seed``. See docs/solvers.md.
"""

from __future__ import annotations

from semalign_core import hookimpl

from ._selectors import FarthestPointSelector, KMeansSelector, RandomSelector, StratifiedSelector

__all__ = ["FarthestPointSelector", "KMeansSelector", "RandomSelector", "StratifiedSelector"]


@hookimpl
def register_anchor_selectors(register):  # type: ignore[no-untyped-def]
    register("random", RandomSelector, aliases=("uniform",),
             description="uniform sampling without replacement")
    register("kmeans", KMeansSelector, aliases=("k-means",),
             description="FAISS k-means (k = n) on L2-normalised vectors; nearest item each")
    register("stratified", StratifiedSelector, aliases=("balanced",),
             description="as even as possible across labels, random within a label")
    register("fps", FarthestPointSelector, aliases=("farthest-point",),
             description="farthest-point sampling from a seeded random start")
