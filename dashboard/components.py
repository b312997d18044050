"""Pieces every page shares: the data guard and onboarding, job notices, "refresh now", KPI cards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy import select
from streamlit.errors import StreamlitAPIException

from core.config import get_settings
from core.format import Unit, money, number, pct, points, ratio
from core.kpi_registry import Good, Kpi
from core.models import JobRun
from dashboard import data
from dashboard.data import DataStatus

SAMPLE_FOR_ONBOARDING = "southwest"
PAGE_FILES = {
    "overview": "app_pages/overview.py",
    "map": "app_pages/map.py",
    "territory": "app_pages/territory.py",
    "drift": "app_pages/drift.py",
    "alerts": "app_pages/alerts.py",
    "optimize": "app_pages/optimize.py",
    "data": "app_pages/data_page.py",
}
SELECT_TO_OPEN = "Select a row to open its territory."

__all__ = ["money", "pct", "points", "ratio", "number", "ago", "as_text"]

_MARKDOWN_INLINE = set("\\`*_{}[]()<>!|~:$&.")  # emphasis, links, images, code, HTML, colours, maths
_MARKDOWN_LINE_START = set("#-+=>0123456789")  # headings, lists, quotes (the text is one line)


def as_text(value: object) -> str:
    """Data (a name from an import) made safe for a Markdown context: every special character
    escaped, so ``**[x](http://evil)**`` shows literally, never as bold, a link or an image."""
    text = " ".join(str(value).split())
    escaped = "".join(f"\\{ch}" if ch in _MARKDOWN_INLINE else ch for ch in text)
    return f"\\{escaped}" if escaped[:1] in _MARKDOWN_LINE_START else escaped


# How a change is coloured on a card: green when it goes the good way, red the other.
DELTA_COLORS = {Good.HIGHER: "normal", Good.LOWER: "inverse", Good.BAND: "off", Good.NEUTRAL: "off"}


def kpi_card(
    cell: Any,
    kpi: Kpi[Any],
    value: float | None,
    delta: str | None = None,
    *,
    shown: str | None = None,
    heading: str | None = None,
    delta_color: str | None = None,
) -> None:
    """A KPI as a bordered card: its heading, its value in its unit, its help; a delta coloured by
    which way the KPI is good (or as given). ``shown`` replaces the value text ("8 of 12")."""
    cell.metric(
        heading or kpi.heading,
        kpi.text(value) if shown is None else shown,
        delta,
        delta_color=delta_color or DELTA_COLORS[kpi.good],
        help=kpi.help or None,
        border=True,
    )


def table_height(rows: int, row_height: int = 35, max_rows: int = 15) -> int:
    """Pixels for a table showing every row up to ``max_rows`` (then it scrolls)."""
    return row_height * (min(max(rows, 1), max_rows) + 1) + 3


MONEY_FORMAT = "$%,.0f"  # sortable money columns in tables: $165,942

# How a sortable number column is written, by registry unit (``core.format.Unit.name``): the cell
# keeps the number (sorting, CSV) and shows it as the unit's ``text`` would, near enough.
COLUMN_FORMATS = {
    "money": MONEY_FORMAT,
    "count": "%,d",
    "share": "percent",
    "signed share": "percent",
    "points": "%+.1f pts",
    "index": "%.2f",
    "ratio": "%.1f×",
    "number": "%.2f",
    "score": "%.0f",
    "hours": "%,.0f h",
}
WRAPPED_ROW_PX = 60  # a row two or three lines high: long text wraps instead of being cut


def number_column(unit: Unit, label: str | None = None, **options: Any) -> Any:
    """A sortable number column written in a registry unit: ``number_column(kpi.unit, kpi.label)``."""
    return st.column_config.NumberColumn(label, format=COLUMN_FORMATS.get(unit.name, "%.2f"), **options)


def wrapped_text_columns(names: list[str]) -> dict[str, Any]:
    """Wide text columns for long sentences (with ``row_height=WRAPPED_ROW_PX`` they wrap)."""
    return {name: st.column_config.TextColumn(width="large") for name in names}


def owner(rep_name: object) -> str:
    """The owner's name, or 'vacant'."""
    return rep_name if isinstance(rep_name, str) and rep_name else "vacant"


def ago(moment: datetime | pd.Timestamp | None, now: datetime | None = None) -> str:
    """How long ago, for people: 'just now', '12 min ago', '5 h ago', '3 days ago'."""
    if moment is None or pd.isna(moment):
        return "never"
    hours = _age_hours(moment, now)
    if hours < 1 / 60:
        return "just now"
    if hours < 1:
        return f"{hours * 60:.0f} min ago"
    return f"{hours:.0f} h ago" if hours < 48 else f"{hours / 24:.0f} days ago"


def _age_hours(moment: datetime | pd.Timestamp, now: datetime | None = None) -> float:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return ((now or datetime.now(UTC)) - stamp.to_pydatetime()).total_seconds() / 3600


def link(page: str, label: str, icon: str | None = None, query: str = "") -> None:
    """A link to another page; a plain URL when the page runs on its own (AppTest of one page)."""
    try:
        st.page_link(PAGE_FILES[page], label=label, icon=icon, query_params=_query(query) or None)
    except (StreamlitAPIException, KeyError):
        st.markdown(f"[{label}](./{page}{'?' + query if query else ''})")


def follow_selection(event, targets: pd.Series) -> None:  # type: ignore[no-untyped-def]
    """Open, in this tab, the page of the row a person selected in a table (``on_select="rerun"``).

    ``targets`` holds relative addresses such as ``territory?territory=SW-T003`` or ``overview``.
    """
    rows = event.selection.rows if event is not None else []
    if rows:
        page, _, query = str(targets.iloc[rows[0]]).partition("?")
        st.switch_page(PAGE_FILES[page], query_params=_query(query) or None)


def _query(query: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in query.split("&") if "=" in part)


# --------------------------------------------------------------------------- guards and onboarding


def ready_or_onboarding() -> DataStatus:
    """The data status; with no database, schema or accounts, onboarding instead of the page."""
    status = data.data_status()
    if not status.ready:
        onboarding(status)
        st.stop()
    return status


def require_snapshot(status: DataStatus) -> None:
    """Stop the page with a clear next step when no KPI snapshot exists yet."""
    if status.snapshot is None:
        st.info(
            "The book is loaded but no KPI snapshot exists yet. Compute one now "
            "(or run `territory refresh kpis`)."
        )
        refresh_panel(key="first-snapshot")
        st.stop()


def onboarding(status: DataStatus) -> None:
    st.title("Welcome to Territory Health")
    what = "There is no database yet" if not status.exists else "The database holds no accounts yet"
    st.markdown(f"{what} (`{_safe_url(status.url)}`). Start with a sample book, or import your CRM exports.")
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.subheader("Explore a sample book")
        st.caption(
            "The southwest book: 12 reps in AZ, NM, NV and UT, 450 accounts, 36 months of revenue, "
            "and 26 weeks of KPI history. Takes a few seconds."
        )
        if _may_run_jobs() and st.button("Load the southwest sample", type="primary", key="load-sample"):
            _load_sample()
    with right, st.container(border=True):
        st.subheader("Import your own book")
        st.caption(
            "Reps, accounts, monthly revenue, activities, opportunities and quotas as CSV files. "
            "Everything is validated first; on any problem nothing is written."
        )
        link("data", "Go to import", icon=":material/upload_file:")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _load_sample() -> None:
    from jobs.setup import initialise

    with st.status("Loading the southwest sample…", expanded=True) as box:
        st.write("Creating the schema, generating the book, backfilling 26 weekly KPI snapshots.")
        try:
            summary = initialise(data.engine(), sample=SAMPLE_FOR_ONBOARDING)
        except Exception as error:  # shown to the user, never a traceback
            box.update(label="Loading the sample failed", state="error")
            st.error(f"{type(error).__name__}: {error}")
            return
        box.update(label="Sample loaded", state="complete")
        st.write(summary)
    data.clear_caches()
    st.rerun()


# --------------------------------------------------------------------------- job notices


def job_notices(status: DataStatus) -> None:
    """At the top of every page: the latest run of a job failed, or the KPI snapshot is stale."""
    if not status.schema:
        return
    runs = data.job_runs(status.url, status.version)
    if runs.empty:
        return
    for run in data.latest_runs(runs).itertuples():
        if run.status == "failed":
            first_line = (run.error or "no error recorded").strip().splitlines()[0]
            st.error(
                f"The last **{run.job}** job failed {ago(run.finished_at or run.started_at)}: {first_line}. "
                "The pages show the last good data; see Data → Job history.",
                icon=":material/error:",
            )
    age = kpi_age_hours(runs)
    limit = get_settings().stale_after_hours
    if age is not None and age > limit:
        st.warning(
            f"KPIs are stale: the last successful KPI refresh finished {age:.0f} h ago "
            f"(limit {limit:.0f} h). Use **Refresh now** on the Overview.",
            icon=":material/schedule:",
        )


def kpi_age_hours(runs: pd.DataFrame) -> float | None:
    """Hours since the last successful KPI job finished (None when it never did)."""
    done = runs[(runs["job"] == "kpis") & (runs["status"] == "success") & runs["finished_at"].notna()]
    return None if done.empty else _age_hours(done["finished_at"].iloc[0])


# --------------------------------------------------------------------------- refresh now


def _may_run_jobs() -> bool:
    from dashboard.auth import can

    return can("jobs.run")


def refresh_panel(key: str = "refresh") -> None:
    """'Refresh now': KPIs (and optionally forecasts first), then alerts, with live progress, then fresh
    caches."""
    if not _may_run_jobs():
        return
    left, right = st.columns([1, 2], vertical_alignment="center")
    with right:
        with_forecasts = st.checkbox(
            "Refit forecasts first (slow: every changed account is refitted)", key=f"{key}-forecasts"
        )
    with left:
        clicked = st.button("Refresh now", icon=":material/refresh:", key=f"{key}-button")
    if clicked:
        _refresh(with_forecasts)


def _refresh(with_forecasts: bool) -> None:
    from jobs.alerts import refresh_alerts
    from jobs.forecasts import refresh_forecasts
    from jobs.kpis import refresh_kpis

    engine = data.engine()
    ok = True
    if with_forecasts:
        ok = run_with_progress(
            "Refitting forecasts",
            "forecasts",
            lambda tick: refresh_forecasts(engine, trigger="dashboard", on_progress=tick),
        )
    if ok:
        ok = run_with_progress(
            "Computing the KPI snapshot", "kpis", lambda _tick: refresh_kpis(engine, trigger="dashboard")
        )
    if ok:  # alerts follow every KPI refresh, as the scheduler does: they read the new snapshot
        ok = run_with_progress(
            "Evaluating the alert rules", "alerts", lambda _tick: refresh_alerts(engine, trigger="dashboard")
        )
    data.clear_caches()
    if ok:
        st.rerun()


def run_with_progress(label: str, job: str, work: Callable[[Callable[[int, int], None]], object]) -> bool:
    """Run ``work`` in a worker thread while the page shows its progress (callback or JobRun row)."""
    state: dict[str, object] = {}

    def tick(done: int, total: int) -> None:
        state["fraction"] = done / total if total else 1.0
        state["message"] = f"{done:,} of {total:,}"

    def target() -> None:
        try:
            state["result"] = work(tick)
        except BaseException as error:  # reported on the page below
            state["error"] = error

    with st.status(f"{label}…", expanded=True) as box:
        bar = st.progress(0.0, text="starting")
        worker = threading.Thread(target=target, name=f"dashboard-{job}", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.3)
            fraction, message = _progress(job, state)
            bar.progress(fraction, text=message)
        if "error" in state:
            box.update(label=f"{label} failed", state="error")
            st.error(f"{type(state['error']).__name__}: {state['error']}")
            return False
        bar.progress(1.0, text="done")
        box.update(label=f"{label}: done", state="complete")
        time.sleep(0.2)
    return True


def _progress(job: str, state: dict[str, object]) -> tuple[float, str]:
    if "fraction" in state:
        return float(state["fraction"]), str(state["message"])  # type: ignore[arg-type]
    with data.engine().connect() as connection:
        row = connection.execute(
            select(JobRun.progress, JobRun.message)
            .where(JobRun.job == job)
            .order_by(JobRun.id.desc())
            .limit(1)
        ).first()
    return (float(row[0] or 0.0), row[1] or "working") if row else (0.0, "starting")


# --------------------------------------------------------------------------- small views


def page_header(title: str, status: DataStatus, caption: str = "") -> None:
    st.title(title)
    source = "forecast run" if status.forecast_run is not None else "baseline (no forecast run yet)"
    st.caption(
        f"Snapshot {status.snapshot or '—'} · {status.accounts:,} accounts · potential from {source}"
        + (f" · {caption}" if caption else "")
    )


def freshness_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per job: the newest run's state and when it last succeeded, for people."""
    limit = get_settings().stale_after_hours
    rows = []
    for job in ("forecasts", "kpis", "alerts", "import", "sample"):
        mine = runs[runs["job"] == job]
        if mine.empty:
            continue
        latest = mine.iloc[0]
        good = mine[(mine["status"] == "success") & mine["finished_at"].notna()]
        last_good = good["finished_at"].iloc[0] if not good.empty else None
        stale = job == "kpis" and (last_good is None or _age_hours(last_good) > limit)
        rows.append(
            {
                "job": job,
                "latest run": latest["status"],
                "started": ago(latest["started_at"]),
                "last success": ago(last_good),
                "rows": int(latest["rows_written"] or 0),
                "flag": "stale" if stale else ("failed" if latest["status"] == "failed" else ""),
            }
        )
    return pd.DataFrame(rows)
