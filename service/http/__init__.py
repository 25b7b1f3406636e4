"""The node's HTTP API: the app factory, routes, request/response schemas, problem responses, dependencies, limits."""
