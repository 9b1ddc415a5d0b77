"""The API's routers: solve (sync advise/review), jobs, meta (schema, health)."""
