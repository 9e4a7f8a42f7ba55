"""The top of the core: the Litestar app (:mod:`.app`), the composition root that
builds and wires the hub's parts (:mod:`.wiring`), and every domain's HTTP routes."""
