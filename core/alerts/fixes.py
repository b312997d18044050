"""An alert that brings its fix: the targeted draft plan a balance episode links to.

When a balance rule (potential index, workload index, the team's CV of potential) opens an episode,
the alerts job solves the generic targeted scenario (``scenarios/targeted.toml``: auto-target scope,
its churn limits) on today's book with a short time limit, saves the result as a draft plan created
by ``system`` and stores the plan's id on the episode. This module holds the pure half: which rules
count as balance rules, which episodes need a plan, the scenario, and the plan's link and words.
The solving and saving is wiring (``jobs.alerts.prepare_fix``).

One plan per run serves every balance episode that needs one (the auto scope already targets every
out-of-band territory, so one solve fixes them together). An episode keeps its plan: a later run
does not make another, unless the book changed since the plan was computed (its assignments
fingerprint differs) while the plan is still a system draft; then the plan is solved again and the
new draft replaces the old one (discarded) on every open episode that linked to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.alerts.rules import Rule
from core.rebalance.scenario import Scenario

BALANCE_METRICS = frozenset({"potential_index", "workload_index", "cv_potential"})
FIX_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "targeted.toml"
SYSTEM = "system"


@dataclass(frozen=True)
class FixPlan:
    """The draft plan prepared for balance episodes, or why there is none.

    ``plan_id`` is None when no plan could be made; ``note`` says why (or, for a plan that only
    meets a relaxed band, the band it meets), in the solver's words.
    """

    plan_id: int | None
    note: str = ""

    @property
    def meets_band(self) -> bool:
        return self.plan_id is not None and not self.note


def is_balance_rule(rule: Rule) -> bool:
    """Whether an episode of this rule gets a fix plan: potential or workload balance, team CV."""
    return rule.metric in BALANCE_METRICS


def fix_scenario(*, time_limit_s: float) -> Scenario:
    """The targeted scenario with the alert job's time limit (it must stay quick)."""
    scenario = Scenario.from_toml(FIX_SCENARIO)
    return scenario.with_changes(
        name="alert fix",
        time_limit_s=time_limit_s,
        description="Prepared by an alert: " + scenario.description,
    )


def plan_link(dashboard_url: str, plan_id: int) -> str:
    """The Optimize page opened on a saved plan."""
    return f"{dashboard_url.rstrip('/')}/optimize?plan={plan_id}"


def fix_sentence(fix: FixPlan) -> str:
    """The fix in one line for an email or the Alerts page."""
    if fix.plan_id is None:
        return f"No fix plan could be prepared: {fix.note}" if fix.note else "No fix plan could be prepared."
    if fix.note:
        return f"Draft fix plan #{fix.plan_id} cannot meet the band: {fix.note}"
    return (
        f"Draft fix plan #{fix.plan_id}: out-of-band territories back within the potential band, "
        "inside the churn limits; review it before approving."
    )


def note_of(status: str, explanation: Sequence[str], relaxation: Sequence[str], has_plan: bool) -> str:
    """Why a fix falls short, from a solver result: the relaxation a plan was solved under, or why
    there is no plan (and what would give one). Empty for a plan that meets the band."""
    if has_plan:
        return " ".join(relaxation)
    words = [*explanation[:3], *relaxation[:2]]
    return " ".join(words) or f"the solver ended {status}"
