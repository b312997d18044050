"""Completion: what a file implies but does not say, per kind (a rep's name from first and last
name, an account's coordinates from its postal code, a revenue month from any day of it, hours
from minutes, an opportunity's status from its stage)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.geo_postal import locate_postal_codes, normalise_postal_codes, normalise_states


def _nothing_to_complete(frame: pd.DataFrame) -> pd.DataFrame:
    return frame


def _complete_reps(frame: pd.DataFrame) -> pd.DataFrame:
    """Name from first + last name; inactive when a leaving date is set; "a, b" specialties as "a|b"."""
    if "_first_name" in frame or "_last_name" in frame:
        parts = frame.reindex(columns=["_first_name", "_last_name"]).fillna("")
        joined = (parts["_first_name"] + " " + parts["_last_name"]).str.strip().replace("", None)
        frame["name"] = frame["name"].where(frame["name"].notna(), joined) if "name" in frame else joined
    if "left_at" in frame:
        still_here = pd.Series(frame["left_at"].isna(), dtype="boolean")
        frame["active"] = frame["active"].fillna(still_here) if "active" in frame else still_here
    if "specialties" in frame:
        frame["specialties"] = frame["specialties"].str.replace(r"\s*[,;|]\s*", "|", regex=True)
    if "state" in frame:
        frame["state"] = normalise_states(frame["state"]).astype(object).where(frame["state"].notna(), None)
    return frame


def _complete_accounts(frame: pd.DataFrame) -> pd.DataFrame:
    """Two-letter states; lat/lon (and a missing city or state) from a known US postal code."""
    if "state" in frame:
        frame["state"] = normalise_states(frame["state"]).astype(object).where(frame["state"].notna(), None)
    if "postal_code" not in frame or frame["postal_code"].isna().all():
        return frame
    frame["postal_code"] = (
        normalise_postal_codes(frame["postal_code"]).astype(object).where(frame["postal_code"].notna(), None)
    )
    places = locate_postal_codes(frame["postal_code"])
    unplaced = (
        frame["lat"].isna() & frame["lon"].isna()
        if {"lat", "lon"} <= set(frame)
        else pd.Series(True, index=frame.index)
    )
    for column in ("lat", "lon"):
        current = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        frame[column] = current.where(~unplaced, places[column]).astype(float)
    for column in ("city", "state"):
        current = frame[column] if column in frame else pd.Series(None, index=frame.index, dtype=object)
        frame[column] = current.where(current.notna(), places[column].astype(object)).where(
            lambda s: s.notna(), None
        )
    return frame


def _complete_revenue(frame: pd.DataFrame) -> pd.DataFrame:
    """Any day of a month stands for the month: stored as its first day."""
    if "month" in frame:
        frame["month"] = frame["month"].dt.to_period("M").dt.to_timestamp()
    return frame


def _complete_activities(frame: pd.DataFrame) -> pd.DataFrame:
    """Hours from a duration in minutes (Salesforce Event.DurationInMinutes); kinds lower-case."""
    if "_minutes" in frame:
        from_minutes = frame["_minutes"] / 60.0
        frame["hours"] = frame["hours"].fillna(from_minutes) if "hours" in frame else from_minutes
    if "kind" in frame:
        frame["kind"] = frame["kind"].str.lower()
    return frame


def _complete_opportunities(frame: pd.DataFrame) -> pd.DataFrame:
    """Status (open | won | lost) from IsWon / IsClosed, else from the stage name ("Closed Won")."""
    missing = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    status = frame["status"].str.lower() if "status" in frame else missing.astype(object)
    if "_is_closed" in frame or "_is_won" in frame:
        closed, won = frame.get("_is_closed", missing), frame.get("_is_won", missing)
        flags = np.select(
            [
                won.eq(True).fillna(False),
                closed.eq(False).fillna(False),
                (closed.eq(True) & won.eq(False)).fillna(False),
            ],
            ["won", "open", "lost"],
            "",
        )
        status = status.where(status.notna(), pd.Series(flags, index=frame.index).replace("", None))
    if "stage" in frame:
        stage = frame["stage"].str.lower().fillna("")
        by_stage = np.select([stage.str.contains("won"), stage.str.contains("lost")], ["won", "lost"], "open")
        status = status.where(status.notna(), pd.Series(by_stage, index=frame.index))
    frame["status"] = status.where(status.notna(), "open")
    return frame


COMPLETERS: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "reps": _complete_reps,
    "accounts": _complete_accounts,
    "revenue": _complete_revenue,
    "activities": _complete_activities,
    "opportunities": _complete_opportunities,
}


def complete(kind: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (typed, of ``kind``) with the values its file implies filled in."""
    return COMPLETERS.get(kind, _nothing_to_complete)(frame)
