"""What every domain runs on: the hub's parts in one container (``Services``), domain
signals through the outbox, background tasks, and notifications sent once. Built by the
composition root (:mod:`axhub.api.wiring`); nothing here imports a domain."""
