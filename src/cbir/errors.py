"""Errors with messages a user can act on."""


class CbirError(Exception):
    """Base class of every error cbir raises on purpose."""


class DatasetError(CbirError):
    """A collection cannot be read: missing, empty, or a bad archive."""


class ChecksumError(DatasetError):
    """A downloaded file does not have the expected checksum."""


class NotFittedError(CbirError):
    """An extractor was used before `fit`."""


class TrainingError(CbirError, ValueError):
    """A training run cannot start: unlabelled data, a bad option, or a model that does not fit the run."""


class FitError(CbirError, ValueError):
    """An extractor cannot learn from this collection with its settings (e.g. too few images)."""


class EngineError(CbirError):
    """An engine folder is missing, damaged, or does not match its extractor."""


class BusyError(CbirError):
    """A folder another cbir is changing, where waiting for it is not wanted."""


class VectorIndexError(CbirError):
    """A vector index was given bad input or asked for something it cannot do."""


class MissingDependencyError(CbirError):
    """An optional dependency is not installed; the message names the install command."""


class ImageDecodeError(CbirError):
    """Bytes that are not a readable image (corrupt, truncated, too large, unknown format)."""


class UnknownWordsError(CbirError):
    """Words that name nothing the features know (`cbir.words`), no place the images were taken at (`cbir.places`:
    `field` "place") or no tag they have (`cbir.tags`: `field` "tag"), with the known words they may have meant."""

    def __init__(self, message: str, suggestions: list[str] = (), field: str = "words"):
        super().__init__(message)
        self.suggestions, self.field = list(suggestions), field
