"""Reads across the domains: the figures of an integration view (``statistics``,
``nextSync``), ``GET /api/integrations/analytics/metrics`` and ``axhub analytics``."""
