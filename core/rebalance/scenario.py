"""The rebalance scenario: one schema for TOML files, the CLI and the Optimize page.

A scenario says which territories may change (scope), what a better plan is (objective weights),
what a plan may never do (hard constraints), and what-ifs (a rep leaves, a rep is added). Every
constraint section has a human half, ``describe()``, which is what an infeasibility report prints;
the machine half lives in ``core.rebalance.constraints``. Sections are named for the settings
they hold (``ObjectiveWeights``, ``HardRules``, ``PotentialRange``), never like the objective terms
or constraint families that read them (``PotentialBand`` is the family, ``PotentialRange`` its
settings); the TOML keys are the field names (``[constraints.potential]``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.config import get_settings
from core.format import money, pct


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scope(_Section):
    """Which territories the plan may change; the others keep their books."""

    kind: Literal["all", "territories", "region", "auto"] = "all"
    territories: list[str] = Field(
        default_factory=list, description="External territory ids (kind = territories)"
    )
    region: str | None = Field(default=None, description="Region name (kind = region)")
    band: float = Field(default=0.15, gt=0, description="auto: out of band when |potential index - 1| > band")
    neighbours: int = Field(
        default=2, ge=0, description="auto: nearest territories added per out-of-band one"
    )

    @model_validator(mode="after")
    def _complete(self) -> Scope:
        if self.kind == "territories" and not self.territories:
            raise ValueError("scope kind 'territories' needs a list of territory ids")
        if self.kind == "region" and not self.region:
            raise ValueError("scope kind 'region' needs a region")
        return self

    def describe(self) -> str:
        if self.kind == "territories":
            return f"territories {', '.join(self.territories)}"
        if self.kind == "region":
            return f"the {self.region} region"
        if self.kind == "auto":
            return (
                f"territories out of the ±{pct(self.band)} potential band and their "
                f"{self.neighbours} nearest neighbours"
            )
        return "all territories"


class ObjectiveWeights(_Section):
    """Weights of what a better plan is. With weight 1 each, one point is: one territory 1% of the
    mean potential (or workload) away from the mean, one ordinary account moved, 100 km between an
    account and its rep's home, one territory whose book spans more than its home state (state
    spread), one account outside its territory's main industries (industry mix)."""

    potential_balance: float = Field(default=1.0, ge=0)
    workload_balance: float = Field(default=0.0, ge=0)
    travel: float = Field(default=0.0, ge=0)
    continuity: float = Field(default=0.1, ge=0, description="Cost of a move: 1, up to 2 for risky accounts")
    industry_mix: float = Field(
        default=0.0, ge=0, description="Per account outside its book's main industries"
    )
    state_spread: float = Field(
        default=0.0, ge=0, description="Per territory spanning more than its home state"
    )

    def describe(self) -> str:
        parts = [
            f"{name.replace('_', ' ')} ×{weight:g}" for name, weight in self.model_dump().items() if weight
        ]
        return "minimise " + (", ".join(parts) if parts else "nothing (any feasible plan)")


class Specialists(_Section):
    min_share: float = Field(
        default=0.5, ge=0, le=1, description="Share of a specialist's book in their specialty"
    )
    exclusive: bool = Field(default=False, description="A specialty's accounts only move to its specialists")

    def describe(self) -> str:
        return f"a specialist's book keeps at least {pct(self.min_share)} of its accounts in their specialty"

    def describe_exclusive(self) -> str:
        return "accounts of a specialty only move to specialists of that industry"


class AccountRange(_Section):
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> AccountRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("accounts.min is above accounts.max")
        return self

    def describe_min(self) -> str:
        return f"at least {self.min} accounts"

    def describe_max(self) -> str:
        return f"at most {self.max} accounts"


class PotentialRange(_Section):
    """Absolute dollars (min / max) or ± a share of the team's mean potential."""

    min: float | None = Field(default=None, ge=0)
    max: float | None = Field(default=None, ge=0)
    share: float | None = Field(default=None, gt=0, lt=1)

    @model_validator(mode="after")
    def _one_kind(self) -> PotentialRange:
        if self.share is not None and (self.min is not None or self.max is not None):
            raise ValueError("give the potential band either as min/max dollars or as a share, not both")
        if self.share is None and self.min is None and self.max is None:
            raise ValueError("the potential band needs min/max dollars or a share")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("potential.min is above potential.max")
        return self

    def bounds(self, mean: float) -> tuple[float, float]:
        """(low, high) dollars for a team mean potential."""
        if self.share is not None:
            return mean * (1 - self.share), mean * (1 + self.share)
        return self.min or 0.0, self.max if self.max is not None else float("inf")

    def describe(self) -> str:
        if self.share is not None:
            return f"potential within ±{pct(self.share)} of the team mean"
        if self.max is None:
            return f"potential at least {money(self.min)}"
        return f"potential between {money(self.min or 0)} and {money(self.max)}"


class Churn(_Section):
    max_moves: int | None = Field(default=None, ge=0, description="Accounts moved in total")
    max_book_share: float | None = Field(default=None, ge=0, le=1, description="Share of each book moved out")
    max_revenue: float | None = Field(default=None, ge=0, description="Trailing-12-month revenue moved")

    def describe_moves(self) -> str:
        return f"at most {self.max_moves} accounts move in total"

    def describe_book_share(self) -> str:
        return f"at most {pct(self.max_book_share)} of each book moves"

    def describe_revenue(self) -> str:
        return f"at most {money(self.max_revenue)} of revenue moves"


class MainIndustries(_Section):
    industries: int = Field(default=3, ge=1)
    min_share: float = Field(default=0.6, ge=0, le=1)

    def describe(self) -> str:
        return f"at least {pct(self.min_share)} of the book in its {self.industries} main industries"


class HardRules(_Section):
    """Hard rules: a plan breaking one is never proposed."""

    locked: bool = Field(default=True, description="Accounts flagged locked stay")
    strategic_revenue: float | None = Field(
        default=None, ge=0, description="Accounts above this revenue stay"
    )
    top_revenue_share: float | None = Field(
        default=None, gt=0, le=1, description="Top share by revenue stays"
    )
    cooldown_days: int | None = Field(default=None, ge=0, description="Accounts moved this recently stay")
    state_lines: bool = Field(
        default=False, description="Accounts only go to territories covering their state"
    )
    capacity: bool = Field(default=False, description="Workload within each rep's capacity hours")
    specialists: Specialists | None = None
    accounts: AccountRange | None = None
    potential: PotentialRange | None = None
    churn: Churn = Field(default_factory=Churn)
    industry_focus: MainIndustries | None = None

    def describe_locked(self) -> str:
        return "accounts flagged as locked stay with their territory"

    def describe_strategic(self) -> str:
        return f"strategic accounts (over {money(self.strategic_revenue)} revenue) stay with their territory"

    def describe_top_revenue(self) -> str:
        return f"the top {pct(self.top_revenue_share)} of accounts by revenue stay with their territory"

    def describe_cooldown(self) -> str:
        return f"accounts moved in the last {self.cooldown_days} days do not move again"

    def describe_state_lines(self) -> str:
        return "accounts only move to territories already covering their state"

    def describe_capacity(self) -> str:
        return "workload within the rep's capacity hours"


class AddedRep(_Section):
    """What-if: a new rep with a home location and an empty territory."""

    territory: str = "NEW-1"
    name: str = "New rep"
    home_lat: float = Field(ge=-90, le=90)
    home_lon: float = Field(ge=-180, le=180)
    state: str | None = Field(
        default=None, description="Home state; with state lines, the states it may cover"
    )
    region: str | None = None
    specialties: list[str] = Field(default_factory=list)
    capacity_hours: float = Field(default=140.0, gt=0)


class WhatIf(_Section):
    vacated: list[str] = Field(default_factory=list, description="Territories whose rep leaves")
    added: list[AddedRep] = Field(default_factory=list)

    def describe_vacated(self, territory: str, accounts: int) -> str:
        return f"all {accounts} accounts of {territory} move because its rep leaves (what-if)"


class Risk(_Section):
    """What makes a move risky (flagged for review, and dearer under the continuity weight)."""

    large_revenue: float = Field(default=100_000.0, ge=0)
    long_tenure_years: float = Field(default=3.0, ge=0)


class EditRules(_Section):
    """A planner's move-by-move edits of a plan under review, kept as hard rules when re-solving.

    ``pins``: account id -> territory id; the account ends in that territory (stays when it is its
    own, a manual move otherwise). ``forbidden``: [account id, territory id] pairs; the account may
    not go there (a rejected move). External ids, as the plan shows them.
    """

    pins: dict[str, str] = Field(default_factory=dict, description="Account id -> territory id it ends in")
    forbidden: list[tuple[str, str]] = Field(
        default_factory=list, description="[account id, territory id] pairs the account may not go to"
    )

    @model_validator(mode="after")
    def _consistent(self) -> EditRules:
        clash = sorted(f"{a} -> {t}" for a, t in self.forbidden if self.pins.get(a) == t)
        if clash:
            raise ValueError(f"edits: {', '.join(clash)} is both pinned and forbidden")
        return self

    @property
    def empty(self) -> bool:
        return not self.pins and not self.forbidden

    def describe_pin(self, account: str, territory: str, *, moves: bool) -> str:
        what = "moves to" if moves else "stays with"
        return f"account {account} {what} {territory} (a planner's edit)"

    def describe_forbidden(self, account: str, territory: str) -> str:
        return f"account {account} may not go to {territory} (a rejected move)"


class Scenario(_Section):
    """A rebalance scenario; see docs/optimizer.md for every field."""

    name: str = "custom"
    description: str = ""
    scope: Scope = Field(default_factory=Scope)
    objective: ObjectiveWeights = Field(default_factory=ObjectiveWeights)
    constraints: HardRules = Field(default_factory=HardRules)
    what_if: WhatIf = Field(default_factory=WhatIf)
    risk: Risk = Field(default_factory=Risk)
    edits: EditRules | None = None  # a plan's move-by-move edits (re-solve around them)
    candidates: int = Field(default=6, ge=1, description="Territories an account considers besides its own")
    # Unless the scenario says, the settings decide (TERRITORY_SOLVER_TIME_LIMIT_S / _WORKERS):
    # workers belong to the machine, a time limit to the scenario only when it needs its own.
    time_limit_s: float = Field(default_factory=lambda: get_settings().solver_time_limit_s, gt=0)
    workers: int = Field(default_factory=lambda: get_settings().solver_workers, ge=1)

    @classmethod
    def from_toml(cls, source: str | Path) -> Scenario:
        """A scenario from TOML text or a path to a .toml file."""
        if isinstance(source, Path) or (
            isinstance(source, str) and "\n" not in source and source.strip().endswith(".toml")
        ):
            source = Path(source).read_text(encoding="utf-8")
        return cls.model_validate(tomllib.loads(source))

    def to_toml(self) -> str:
        """TOML text that ``from_toml`` reads back to an equal scenario."""
        return tomli_w.dumps(self.model_dump(mode="json", exclude_none=True))

    def with_changes(self, **sections: object) -> Scenario:
        """A validated copy with dotted fields replaced.

        ``with_changes(**{"constraints.churn.max_moves": 5})``; a value of None removes a section.
        """
        data = self.model_dump()
        for dotted, value in sections.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                if node.get(key) is None:
                    node[key] = {}
                node = node[key]
            node[leaf] = value
        return Scenario.model_validate(data)
