"""Acceptance: on each sample book every planted story raises its alert, and what fires is exactly
the list documented in docs/sample-books.md (seed 7, as of 2026-11-23)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from core.db import session_scope
from core.models import AlertEpisode, AlertRule, Territory
from core.sample import generate_book
from jobs.alerts import refresh_alerts
from jobs.setup import initialise

AS_OF = date(2026, 11, 23)
STORY_ALERTS = {  # which alerts each kind of planted story must raise on its territory
    "churned_top_account": {"potential_index_band"},
    "activity_cliff": {"activity_drop"},
    "stalled_bookings": {"drift_low", "pipeline_coverage_low"},
    "overloaded_after_departure": {"workload_index_band", "coverage_low"},
}
EXPECTED = {  # docs/alerts.md, "What fires on the sample books": 13, 12 and 10 episodes
    "southwest": {
        "potential_index_band": "SW-T001 SW-T005 SW-T006 SW-T008",
        "workload_index_band": "SW-T001 SW-T002 SW-T005",
        "coverage_low": "SW-T001",
        "activity_drop": "SW-T010",
        "drift_low": "SW-T010",
        "pipeline_coverage_low": "SW-T010",
        "moved_account_silent": "SW-T005",  # the past plan's silent account (docs/review.md)
        "team_potential_cv": "team",
    },
    "midmarket": {
        "potential_index_band": "MM-T001 MM-T002 MM-T004 MM-T005",
        "workload_index_band": "MM-T004 MM-T008",
        "coverage_low": "MM-T004",
        "activity_drop": "MM-T006",
        "drift_low": "MM-T006",
        "pipeline_coverage_low": "MM-T006",
        "moved_account_silent": "MM-T002",
        "team_potential_cv": "team",
    },
    "national": {
        "potential_index_band": "NA-T017 NA-T050",
        "workload_index_band": "NA-T012 NA-T015",
        "coverage_low": "NA-T015",
        "activity_drop": "NA-T003 NA-T015",
        "drift_low": "NA-T003",
        "pipeline_coverage_low": "NA-T003",
        "moved_account_silent": "NA-T032",
    },
}
EPISODES = {"southwest": 13, "midmarket": 12, "national": 10}  # the counts docs/alerts.md documents


def fired(engine) -> dict[str, set[str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AlertRule.key, Territory.external_id)
            .join(AlertEpisode, AlertEpisode.rule_id == AlertRule.id)
            .join(Territory, Territory.id == AlertEpisode.territory_id, isouter=True)
            .where(AlertEpisode.status == "open")
        ).all()
    result: dict[str, set[str]] = {}
    for key, territory in rows:
        result.setdefault(key, set()).add(territory or "team")
    return result


@pytest.mark.slow
@pytest.mark.parametrize("sample", ["southwest", "midmarket", "national"])
def test_alerts_on_sample_books_match_the_documented_list(engine, sample):
    initialise(engine, sample=sample, as_of=AS_OF)
    refresh_alerts(engine, now=datetime(2026, 11, 23, 9, tzinfo=UTC))
    alerts = fired(engine)
    for story in generate_book(sample, as_of=AS_OF).stories:
        for rule in STORY_ALERTS[story.kind]:
            assert story.territory_id in alerts.get(rule, set()), f"{story.kind} did not raise {rule}"
    assert alerts == {rule: set(where.split()) for rule, where in EXPECTED[sample].items()}
    assert sum(len(where) for where in alerts.values()) == EPISODES[sample]


def test_the_documented_counts_are_the_expected_lists() -> None:
    """docs/alerts.md states the episode count of each book; it must be the list above."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "alerts.md").read_text()
    for sample, expected in EXPECTED.items():
        count = sum(len(where.split()) for where in expected.values())
        assert count == EPISODES[sample]
        assert f"| {sample} | {count} |" in doc
