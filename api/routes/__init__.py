"""The API's routers: solve (sync advise/review), jobs, meta (schema, health); formats picks
the answer's format (JSON or a report) by `Accept` for solve and jobs."""
