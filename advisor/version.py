"""The version, in one place: the package metadata reads it from here when built
(pyproject.toml, [tool.hatch.version]), and `podlayout --version` prints it without loading
the package metadata machinery (a tenth of a second or more)."""

__version__ = "0.1.0"
