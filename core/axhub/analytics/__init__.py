"""Integration analytics: ``GET /api/integrations/analytics/metrics`` and ``axhub analytics``."""
