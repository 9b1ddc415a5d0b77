"""Review mode: score the layout the user runs today, and show the advised one beside it."""

from __future__ import annotations

import time

from advisor.current import current_view
from advisor.findings import findings
from advisor.layout import LayoutView, wire_nodes, wire_placements, wire_pods, wire_unplaced
from advisor.migration import plan_migration
from advisor.prepare import Instance, prepare
from advisor.scoring import score
from advisor.solve import SolveControl, advise_prepared
from advisor.whatif import default_failures, view_of_plan, what_if
from models import Assessment, Comparison, Plan, Problem, Review, Scores
from models.plan import Migration, ReviewWhatIf

# Findings that mean the current layout could not run as described.
HARD_RULE_FINDINGS = {"NODE_OVERCOMMITTED", "NODE_NOT_ADMITTED", "PORT_CLASH", "HELPER_SEPARATED",
                      "HINT_VIOLATED"}


def review(problem: Problem, control: SolveControl | None = None) -> Review:
    started = time.monotonic()  # preparing and scoring today's layout count against the limit
    inst = prepare(problem)
    view = current_view(inst)
    scores, detail, exposures = score(inst, view)
    current = Assessment(
        pods=wire_pods(inst, view), placements=wire_placements(inst, view),
        nodes=wire_nodes(inst, view), scores=scores,
        findings=findings(inst, view, scores, detail, exposures), unplaced=wire_unplaced(view),
    )
    advised = advise_prepared(inst, control, started)  # the layout: fewer changes break ties
    nodes_current = len({k for _, _, k in view.placements})
    if advised.scores is not None:
        waste_delta = round(advised.scores.waste.score - scores.waste.score, 2)
        spof_delta = round(advised.scores.spof.score - scores.spof.score, 2)
        summary = (
            f"advised layout: waste {scores.waste.score:.1f} -> {advised.scores.waste.score:.1f}, "
            f"SPOF {scores.spof.score:.1f} -> {advised.scores.spof.score:.1f}, "
            f"pods {len(view.pods)} -> {len(advised.pods)}, nodes used {nodes_current} -> "
            f"{advised.solver.nodes_used}"
            + (f" (frees {nodes_current - advised.solver.nodes_used})"
               if advised.solver.nodes_used < nodes_current else "")
            + f"; {_blast_words(scores, advised.scores)}"
        )
    else:
        waste_delta = spof_delta = 0.0
        summary = "no advised layout: the problem is infeasible (see advised.conflicts)"
    broken = sorted({f.code for f in current.findings if f.code in HARD_RULE_FINDINGS})
    if broken:
        summary += ("; the current layout breaks hard rules (" + ", ".join(broken)
                    + "): its scores describe a layout the cluster could not run as given")
    return Review(
        current=current, advised=advised, what_if=_what_if(inst, view, advised),
        migration=_migration(inst, view, advised),
        comparison=Comparison(
            waste_delta=waste_delta, spof_delta=spof_delta, nodes_current=nodes_current,
            nodes_advised=advised.solver.nodes_used, pods_current=len(view.pods),
            pods_advised=len(advised.pods), summary=summary,
        ),
    )


def _blast_words(current: Scores, advised: Scores) -> str:
    """Blast radius before and after, in words: what one failure would stop."""
    before, after = current.spof.blast_radius, advised.spof.blast_radius
    words = f"blast radius (one node) {before.node:.0f} % -> {after.node:.0f} %"
    if before.zone != before.node or after.zone != after.node:
        words += f", (one zone) {before.zone:.0f} % -> {after.zone:.0f} %"
    if after.node > before.node or after.zone > before.zone:
        words += (": the advised layout concentrates critical components, so one failure "
                  "stops more of them at once (the price of what it saves)")
    elif after.node < before.node or after.zone < before.zone:
        words += ": one failure stops fewer critical components at once"
    return words



def _what_if(inst: Instance, view: LayoutView, advised: Plan) -> ReviewWhatIf | None:
    """The default failures (worst node, worst zone, every zone of few) of either layout,
    simulated on both, so that the two sides answer the same questions."""
    if not view.placements:
        return None
    after_view = view_of_plan(inst, advised) if advised.placements else None
    chosen = default_failures(inst, view)
    if after_view is not None:
        chosen += [f for f in default_failures(inst, after_view) if f not in chosen]
    current = what_if(inst, view, chosen)
    after = what_if(inst, after_view, chosen) if after_view is not None else None
    return ReviewWhatIf(current=current, advised=after)


def _migration(inst: Instance, view: LayoutView, advised: Plan) -> Migration | None:
    """Steps from today's layout to the advised one, when the advice places everything."""
    if advised.status == "infeasible" or advised.unplaced or not advised.placements:
        return None
    return plan_migration(inst, view, view_of_plan(inst, advised))
