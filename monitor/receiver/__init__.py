"""The receiver role (``monitor serve``): intake that is pushed to us, over HTTP.

``app`` is the ASGI application (the ingest API, its OpenAPI description, health, metrics),
``limits`` its rate limits, ``openapi`` its description; ``serve`` runs it on uvicorn with the
bounds a server facing the internet needs.
"""
