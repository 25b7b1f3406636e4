"""The node's HTTPS API, CLI and the application services wiring domain to adapters."""
