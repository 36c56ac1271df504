"""The HTTP API v1 (ARCHITECTURE §5.1): Starlette on uvicorn, see docs/adr/0007-http-api.md."""
