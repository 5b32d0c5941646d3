"""The JSON API at /api/v1/ (django-ninja); its OpenAPI schema is at /api/v1/openapi.json."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="Evidence Portal API", version="1", urls_namespace="api")
api.add_router("", "portal.api.router")
api.add_router("/collections", "curation.api.router")
