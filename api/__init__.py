"""REST adapter of pod-layout-advisor (routes arrive with the API work)."""
