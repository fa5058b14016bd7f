"""Static files as `collectstatic` leaves them: compressed and named by their hash."""

from whitenoise.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]


class CollectedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's gzipped, hashed files, linked by their hashed names under DEBUG too.

    Django links the plain names while DEBUG is on, and WhiteNoise caches only a hashed
    name for long (immutable): so `make run`, with DEBUG on, is cached as production.
    """

    def url(self, name: str | None, force: bool = False) -> str:
        return super().url(name, force=True)
