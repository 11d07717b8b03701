"""The HTTP API: app factory, authentication, problem details, shared dependencies."""
