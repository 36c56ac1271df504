"""The HTTP API v1 (docs/architecture.md, HTTP API): Starlette on uvicorn; docs/adr/0007."""
