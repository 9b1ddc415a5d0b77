"""Benchmarks of the advisor: `python -m bench core` (run from the repository root).

Not part of the installed product. The pieces:

- `generators`: seeded, consistent microservice problems (wire-format dicts).
- `baselines`: first-fit-decreasing placements to compare the advisor against.
- `runner`: runs `advisor.advise` over generated problems and tabulates the results.
- `data`: readers of the shared benchmark data (VBP optima, Alibaba openb) and the
  synthetic scale generator, as wire-format problems.
- `fragmentation`: lower bound, stranded GPU and device feasibility, the same for
  every method's plan.
- `scale`: `python -m bench scale`, the advisor (in a subprocess per instance) beside
  FFD and kube-scheduler-style greedies on those suites.
"""
