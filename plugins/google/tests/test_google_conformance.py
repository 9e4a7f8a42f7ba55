"""The conformance suite every provider plugin runs (axhub.testing.conformance)."""

from axhub.testing.conformance import ProviderConformance


class TestProviderConformance(ProviderConformance):
    provider = "google"
    skip = {"rotation": "Google never rotates refresh tokens: a refresh answers no new one (its sandbox neither)"}
