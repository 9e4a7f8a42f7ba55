"""The ``/api/integrations`` domain: schemas, service (tenancy-scoped queries), controller."""
