"""Benchmarks of the advisor: `python -m bench core` (run from the repository root).

Not part of the installed product. The pieces:

- `generators`: seeded, consistent microservice problems (wire-format dicts).
- `baselines`: first-fit-decreasing placements to compare the advisor against.
- `runner`: runs `advisor.advise` over generated problems and tabulates the results.
"""
