"""trailwatch core: the detection catalog and everything derived from it, free of Pulumi."""

#: The package version: the one place it is written (pyproject.toml reads it; CHANGELOG.md lists each release).
__version__ = "0.1.0"
