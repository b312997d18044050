"""Quota as of a date, and the quota that follows accounts moved mid-period: one home for both.

A rep's quota for a period is a base amount (``Quota``) plus the adjustments (``QuotaAdjustment``)
effective on or before the day asked about. Each piece is *expected* evenly over its own days: the
base from the period's first day, an adjustment from its effective date, both to the period's last
day. So on day d of a period [s, e]:

* quota(d)    = base + Σ adjustments with effective date ≤ d
* expected(d) = base × (d − s + 1) / (e − s + 1) + Σ adj × (d − t + 1) / (e − t + 1)   (t: its date)
* pace(d)     = expected(d) / quota(d)  (the plain time share when there are no adjustments)

**Quota follows the accounts** (``quota_transfers``): when a plan moves accounts from a territory owned
by rep L to one owned by rep G with effective date t, the part of L's quota not yet expected before t,
``remaining = quota(t) − expected(t − 1 day)``, moves to G in proportion to the moved accounts' share
of L's book (by ``potential`` or trailing-12-month ``revenue``; ``none`` moves no quota). The elapsed
part stays with L. Each transfer is rounded to the cent and written as two rows of opposite sign, so
the team total is conserved to the cent. A move whose losing or gaining territory has no owner, or
whose owner has no quota period containing t, carries no quota (``QuotaTransfer.skipped`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

QUOTA_METHODS = ("none", "potential", "revenue")
DEFAULT_QUOTA_METHOD = "potential"
METRIC_OF_METHOD = {"potential": "potential", "revenue": "revenue_ttm"}


@dataclass(frozen=True)
class QuotaTransfer:
    """Quota moving from one rep's period to another's with the accounts (amount > 0), or why not."""

    from_territory_id: int | None
    to_territory_id: int
    from_rep_id: int | None
    to_rep_id: int | None
    amount: float  # dollars, rounded to the cent; 0 when skipped
    share: float  # the moved accounts' share of the losing rep's book by the method's metric
    remaining: float  # the losing rep's quota not yet expected before the effective date
    from_period: tuple[date, date] | None
    to_period: tuple[date, date] | None
    skipped: str | None = None  # why no quota moves for this pair


def current_periods(quotas: pd.DataFrame, day: date) -> pd.DataFrame:
    """Per rep, the base quota row whose period contains ``day`` (latest start wins), indexed by rep_id.

    ``quotas`` has rep_id, period_start, period_end, amount (dates as ``date`` or datetime64).
    """
    frame = _dated(quotas, ("period_start", "period_end"))
    stamp = pd.Timestamp(day)
    current = frame[(frame["period_start"] <= stamp) & (frame["period_end"] >= stamp)]
    current = current.sort_values("period_start").drop_duplicates("rep_id", keep="last")
    return current.set_index("rep_id")[["period_start", "period_end", "amount"]]


def quota_as_of(quotas: pd.DataFrame, adjustments: pd.DataFrame, day: date) -> pd.DataFrame:
    """Per rep with a period containing ``day``: period_start, period_end, quota and expected (dollars).

    ``adjustments`` has rep_id, period_start, effective_date, amount (may be empty); an adjustment
    counts for the base row with the same rep and period_start once its effective date is ≤ ``day``.
    """
    base = current_periods(quotas, day)
    stamp = pd.Timestamp(day)
    length = (base["period_end"] - base["period_start"]).dt.days + 1
    elapsed = (stamp - base["period_start"]).dt.days + 1
    out = pd.DataFrame(
        {
            "period_start": base["period_start"],
            "period_end": base["period_end"],
            "quota": base["amount"].astype(float),
            "expected": base["amount"].astype(float) * elapsed / length,
        }
    )
    if adjustments is None or adjustments.empty or out.empty:
        return out
    adj = _dated(
        adjustments[["rep_id", "period_start", "effective_date", "amount"]],
        ("period_start", "effective_date"),
    )
    adj = adj[adj["effective_date"] <= stamp]
    adj = adj.merge(out[["period_start", "period_end"]].reset_index(), on=["rep_id", "period_start"])
    if adj.empty:
        return out
    days_in = (adj["period_end"] - adj["effective_date"]).dt.days + 1
    done = (stamp - adj["effective_date"]).dt.days + 1
    adj = adj.assign(expected=adj["amount"] * (done / days_in).clip(upper=1.0))
    sums = adj.groupby("rep_id")[["amount", "expected"]].sum()
    out["quota"] = out["quota"].add(sums["amount"], fill_value=0.0).reindex(out.index)
    out["expected"] = out["expected"].add(sums["expected"], fill_value=0.0).reindex(out.index)
    return out


def pace_of(position: pd.DataFrame, day: date) -> pd.Series:
    """expected / quota where the quota is positive, else the plain share of the period's days elapsed."""
    stamp = pd.Timestamp(day)
    length = (position["period_end"] - position["period_start"]).dt.days + 1
    time_share = ((stamp - position["period_start"]).dt.days + 1) / length
    quota = position["quota"].astype(float)
    expected = position["expected"].astype(float) if "expected" in position else time_share * quota
    weighted = expected / quota.where(quota > 0)
    return weighted.where(quota > 0, time_share).astype(float)


def quota_transfers(
    moves: pd.DataFrame,
    accounts: pd.DataFrame,
    territories: pd.DataFrame,
    quotas: pd.DataFrame,
    adjustments: pd.DataFrame,
    *,
    effective_date: date,
    method: str = DEFAULT_QUOTA_METHOD,
) -> list[QuotaTransfer]:
    """The quota each (losing territory, gaining territory) pair of a plan carries (module docstring).

    ``moves``: account_id, from_territory_id, to_territory_id. ``accounts``: account_id, territory_id
    (before the plan) and the method's metric (``potential`` or ``revenue_ttm``). ``territories``:
    territory_id, owner_rep_id. ``quotas`` / ``adjustments``: as for ``quota_as_of``.
    """
    if method not in QUOTA_METHODS:
        raise ValueError(f"quota method must be one of {', '.join(QUOTA_METHODS)}, not {method!r}")
    pairs = moves.groupby(["from_territory_id", "to_territory_id"], dropna=False)["account_id"].apply(list)
    if method == "none" or pairs.empty:
        return []
    metric = (
        accounts.set_index("account_id")[METRIC_OF_METHOD[method]].astype(float).fillna(0.0).clip(lower=0)
    )
    owner = territories.set_index("territory_id")["owner_rep_id"]
    rep_of_account = accounts.set_index("account_id")["territory_id"].map(owner)
    book = metric.groupby(rep_of_account).sum()  # each rep's whole book before the plan
    now = quota_as_of(quotas, adjustments, effective_date)
    before = quota_as_of(quotas, adjustments, effective_date - timedelta(days=1))
    transfers = []
    for (source, target), account_ids in pairs.items():
        source_id = None if pd.isna(source) else int(source)
        from_rep, to_rep = _owner(owner, source_id), _owner(owner, int(target))
        from_period, to_period = _period(now, from_rep), _period(now, to_rep)
        remaining = 0.0
        if from_period is not None and from_rep is not None:
            expected_before = _expected_before(before, now, from_rep)
            remaining = max(float(now.at[from_rep, "quota"]) - expected_before, 0.0)
        moved = float(metric.reindex(account_ids).fillna(0.0).sum())
        total = float(book.get(from_rep, 0.0)) if from_rep is not None else 0.0
        share = moved / total if total > 0 else 0.0
        skipped = _why_skipped(source_id, from_rep, to_rep, from_period, to_period, total)
        amount = 0.0 if skipped else round(remaining * share, 2)
        transfers.append(
            QuotaTransfer(
                source_id,
                int(target),
                from_rep,
                to_rep,
                amount,
                share,
                remaining,
                from_period,
                to_period,
                skipped,
            )
        )
    return transfers


def adjustment_rows(transfers: list[QuotaTransfer], *, effective_date: date) -> list[dict[str, object]]:
    """Two signed rows per transfer that moves quota (QuotaAdjustment columns without plan/actor)."""
    rows: list[dict[str, object]] = []
    for t in transfers:
        if t.skipped or t.amount == 0 or t.from_period is None or t.to_period is None:
            continue
        for rep, territory, period, sign in (
            (t.from_rep_id, t.from_territory_id, t.from_period, -1.0),
            (t.to_rep_id, t.to_territory_id, t.to_period, 1.0),
        ):
            rows.append(
                {
                    "rep_id": rep,
                    "territory_id": territory,
                    "period_start": period[0],
                    "period_end": period[1],
                    "effective_date": effective_date,
                    "amount": sign * t.amount,
                }
            )
    return rows


def _expected_before(before: pd.DataFrame, now: pd.DataFrame, rep: int) -> float:
    """Expected by the day before the effective date within the same period (0 on its first day)."""
    if rep not in before.index or before.at[rep, "period_start"] != now.at[rep, "period_start"]:
        return 0.0
    return float(before.at[rep, "expected"])


def _owner(owner: pd.Series, territory_id: int | None) -> int | None:
    if territory_id is None or territory_id not in owner.index or pd.isna(owner.at[territory_id]):
        return None
    return int(owner.at[territory_id])


def _period(now: pd.DataFrame, rep: int | None) -> tuple[date, date] | None:
    if rep is None or rep not in now.index:
        return None
    return now.at[rep, "period_start"].date(), now.at[rep, "period_end"].date()


def _why_skipped(
    source: int | None,
    from_rep: int | None,
    to_rep: int | None,
    from_period: tuple[date, date] | None,
    to_period: tuple[date, date] | None,
    total: float,
) -> str | None:
    if source is None:
        return "the accounts were unassigned"
    if from_rep is None:
        return "the losing territory is vacant"
    if to_rep is None:
        return "the gaining territory is vacant"
    if from_rep == to_rep:
        return "the same rep owns both territories"
    if from_period is None:
        return "the losing rep has no quota period containing the effective date"
    if to_period is None:
        return "the gaining rep has no quota period containing the effective date"
    if total <= 0:
        return "the losing book has no value by this method"
    return None


def _dated(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_datetime(out[column])
    return out
