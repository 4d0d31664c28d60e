"""Routers per area: ``api`` (JSON API under /api/v1); ``public`` and ``workspace`` follow."""
