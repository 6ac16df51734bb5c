"""Thin HTTP routers: parse the request, call a service from `serving.deps`, return a schema."""
