"""Rebalance results, frontiers and saved plans in words for the CLI."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from core.format import moment_label, money, number, pct, risk_words, seconds, solver_words, territory_label
from core.plans import SavedPlan
from core.rebalance import Frontier, RebalanceResult
from core.rebalance.result import Move


def _num(value: float | None, digits: int = 3) -> str:
    return number(value, digits)


def result_text(
    result: RebalanceResult,
    accounts: Mapping[str, str] | None = None,
    territories: pd.DataFrame | None = None,
) -> str:
    """A solve in words; moves read as in ``plan_text`` (names, "Territory · Rep", risks in words)."""
    lines = [
        f"status {result.status} ({solver_words(result.status)}) in {seconds(result.wall_time_s)}; "
        f"objective {_num(result.objective)}, best bound {_num(result.best_bound)}, gap {pct(result.gap, 2)}"
    ]
    if not result.has_plan:
        lines.append("no plan: " + ("\n  ".join(result.explanation) or "see the solver status"))
        if result.relaxation:
            lines.append("to get a plan: " + "\n  ".join(result.relaxation))
        return "\n".join(lines)
    if result.relaxation:
        lines.append("relaxed: " + "\n  ".join(result.relaxation))
    before, after = result.team_before, result.team_after
    if before and after:
        lines.append(
            f"team CV {_num(before.cv)} -> {_num(after.cv)}; max/min {_num(before.max_min_ratio, 2)} -> "
            f"{_num(after.max_min_ratio, 2)}; out of band {before.out_of_band} -> {after.out_of_band}"
        )
    risky = sum(1 for m in result.moves if m.risks)
    lines.append(f"{len(result.moves)} moves ({risky} with risks to review)")
    lines.append(f"\n{'territory':<28}{'potential':>20}{'accounts':>12}{'workload h':>14}")
    for change in result.territories:
        b, a = change.before, change.after
        lines.append(
            f"{change.name[:27]:<28}{money(b.potential):>9} -> {money(a.potential):<7}"
            f"{b.accounts:>5} -> {a.accounts:<4}{b.workload_hours:>7.0f} -> {a.workload_hours:<5.0f}"
        )
    if result.moves:
        lines.append("\nmoves:")
        lines.extend(move_lines(result.moves, accounts, territories))
    return "\n".join(lines)


def move_lines(
    moves: Iterable[Move], accounts: Mapping[str, str] | None, territories: pd.DataFrame | None
) -> list[str]:
    """One line per move: "Acct 1 (A1): Phoenix · Maria Lopez -> Tucson · Bo Li. reason; risks: ..."."""
    names = accounts or {}
    lines = []
    for move in moves:
        account = f"{names[move.account]} ({move.account})" if move.account in names else move.account
        risks = f"; risks: {risk_words(move.risks)}" if move.risks else ""
        lines.append(
            f"  {account}: {territory_label(move.from_territory, territories)} -> "
            f"{territory_label(move.to_territory, territories)}. {move.reason}{risks}"
        )
    return lines


def frontier_text(curve: Frontier) -> str:
    lines = [
        "\nchurn-balance frontier (the most balanced plan per move budget; the band and account range "
        "are what it reaches for, every other rule holds):",
        f"{'budget':>7}{'moves':>7}{'CV':>8}{'max dev':>9}{'out of band':>13}{'status':>10}{'gap':>8}",
    ]
    for p in curve:
        lines.append(
            f"{p.budget:>7}{p.moves:>7}{_num(p.cv):>8}"
            f"{pct(p.max_deviation, 1):>9}"
            f"{p.out_of_band if p.out_of_band >= 0 else '—':>13}{p.status:>10}"
            f"{pct(p.gap, 1):>8}"
        )
    lines.append(curve.describe())
    return "\n".join(lines)


def plan_text(
    plan: SavedPlan, accounts: Mapping[str, str] | None = None, territories: pd.DataFrame | None = None
) -> str:
    """A saved plan in words; moves read with account names (``accounts``: id -> name) and territories
    as "Name · Rep" (``territories``: load_territories), ids in brackets for looking them up."""
    lines = [
        f"plan {plan.id} '{plan.name}': {plan.status_words}, created {moment_label(plan.created_at)}",
        f"solver {plan.solver_status} ({solver_words(plan.solver_status)}), gap {pct(plan.gap, 2)}, "
        f"{len(plan.moves)} moves",
    ]
    if plan.approved_at:
        lines.append(f"approved by {plan.approved_by} at {moment_label(plan.approved_at)}")
    if plan.scheduled_at:
        lines.append(
            f"scheduled by {plan.scheduled_by} at {moment_label(plan.scheduled_at)}, "
            f"effective {plan.effective_date}, quota method {plan.quota_method}"
        )
    if plan.applied_at:
        lines.append(
            f"applied by {plan.applied_by} at {moment_label(plan.applied_at)}, "
            f"effective {plan.effective_date}, quota method {plan.quota_method or 'none'}"
        )
    if plan.status == "refused" and plan.review_comment:
        lines.append(f"refused: {plan.review_comment}")
    lines.extend(move_lines(plan.moves, accounts, territories))
    return "\n".join(lines)
