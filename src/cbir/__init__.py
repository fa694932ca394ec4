"""cbir: content-based image retrieval — describe, index and search images."""

from cbir.engine import Engine
from cbir.types import Hit, Sample, SearchResult

__all__ = ["Engine", "Hit", "Sample", "SearchResult", "__version__"]
__version__ = "0.4.15"
