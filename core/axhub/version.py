"""The hub's version, in a module of its own: the HTTP client's User-Agent and the
OpenAPI document read it without importing the package's public surface."""

__version__ = "0.1.0"
