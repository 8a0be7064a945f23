"""The HTTP layer: FastAPI app, routes, and the mapping of domain errors to statuses."""

from twoshot.api.app import create_app

__all__ = ["create_app"]
