"""The conformance suite every provider plugin runs (axhub.testing.conformance)."""

from axhub.testing.conformance import ProviderConformance


class TestProviderConformance(ProviderConformance):
    provider = "microsoft"
