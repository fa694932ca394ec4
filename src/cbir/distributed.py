"""Distributed feature extraction with Ray Data (`cbir index --ray [ADDRESS]`).

The extractor is fitted here (exactly as `Engine.build` fits it), then Ray Data spreads the
collection over the cluster — the local machine when no address is given: each worker
reads its images (by path, so a cluster needs the collection on shared storage; pixels
travel instead when the collection has no paths), describes them with its own copy of the
fitted extractor in `map_batches`, and the vectors stream back into the chosen index.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tqdm.auto import tqdm

from cbir.datasets.collection import Dataset
from cbir.engine import Engine
from cbir.errors import MissingDependencyError
from cbir.features.base import FeatureExtractor
from cbir.index.base import VectorIndex


class _Describe:
    """A Ray Data actor: one copy of the fitted extractor, many batches."""

    def __init__(self, extractor: FeatureExtractor):
        self.extractor = extractor

    def __call__(self, batch: dict) -> dict:
        if "image" in batch:
            images = list(batch["image"])
        else:
            from cbir.datasets.folder import DEFAULT_MAX_SIDE
            from cbir.datasets.sources import load_image

            # at the size the collection was read at, as `Engine.build` describes it (a photo's JPEG at a fraction)
            images = [load_image(str(path), max_side=DEFAULT_MAX_SIDE) for path in batch["path"]]
        return {"row": batch["row"], "vector": self.extractor.transform(images, indexing=True)}


def build_with_ray(dataset: Dataset, extractor: FeatureExtractor, index: Callable[[int], VectorIndex],
                   address: str | None = None, batch_size: int = 256, progress: bool = True) -> Engine:
    """An engine like `Engine.build(dataset, extractor, index)`, with the describing done by Ray Data."""
    try:
        import ray
    except ImportError as exc:
        raise MissingDependencyError("--ray needs Ray Data: pip install 'cbir[ray]'") from exc
    if not extractor.fitted_:
        extractor.fit(dataset, progress)
    started = not ray.is_initialized()
    if started:  # before the index: Ray forks its processes, and a live gRPC client (Milvus) must not be forked
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        engine = Engine(extractor, index(extractor.dim))
        if all(path is not None for path in dataset.paths):
            rows = [{"row": i, "path": path} for i, path in enumerate(dataset.paths)]
        else:
            rows = [{"row": i, "image": np.asarray(image)} for i, image in enumerate(dataset.images)]
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        described = ray.data.from_items(rows).map_batches(
            _Describe, fn_constructor_kwargs={"extractor": extractor}, batch_size=batch_size,
            concurrency=workers, num_cpus=1, batch_format="numpy")
        with tqdm(total=len(dataset), desc=f"indexing with {extractor.name} on Ray ({workers} workers)",
                  unit="img", disable=not progress, mininterval=0.5) as bar:
            for batch in described.iter_batches(batch_size=batch_size, batch_format="numpy"):
                engine.add_vectors(dataset.subset(batch["row"]), batch["vector"])
                bar.update(len(batch["row"]))
    finally:
        if started:
            ray.shutdown()
    return engine
