# The hub's own fixtures (also what plugin authors get from axhub[testing]).
pytest_plugins = ["axhub.testing.fixtures"]
