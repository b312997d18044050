"""Data: import CRM exports from the browser, what the data is missing, and the job history."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from core.book import SPECS
from core.format import moment_label
from dashboard import auth, data
from dashboard import components as ui

IMPORT_FLASH = "data-import-flash"
KINDS = ("reps", "accounts", "revenue", "activities", "opportunities", "quotas")


def import_form() -> None:
    """One uploader per kind; everything is validated first and nothing is written on any problem."""
    if not auth.can("import"):
        st.caption("Imports are for admins.")
        return
    with st.form("import", clear_on_submit=False, border=True):
        st.markdown(
            "Upload any of the six CSV exports. Rows upsert by CRM id; on any problem **nothing** is "
            "written and every problem is listed with its file, row and field."
        )
        cells = st.columns(3)
        uploads = {
            kind: cells[i % 3].file_uploader(
                kind.capitalize(), type=["csv"], key=f"upload-{kind}", help=_columns_help(kind)
            )
            for i, kind in enumerate(KINDS)
        }
        submitted = st.form_submit_button("Validate and import", type="primary", icon=":material/upload:")
    if submitted:
        run_import({kind: upload for kind, upload in uploads.items() if upload is not None})


def _columns_help(kind: str) -> str:
    return "Columns: " + ", ".join(f"{c.name}{' (required)' if c.required else ''}" for c in SPECS[kind])


def run_import(uploads: dict) -> None:  # type: ignore[type-arg]
    if not uploads:
        st.warning("Choose at least one file to import.")
        return
    from core.db import upgrade_schema
    from core.importing import ImportValidationError, import_files

    engine = data.engine()
    actor = auth.acting("import")
    with tempfile.TemporaryDirectory(prefix="territory-import-") as folder:
        files = {kind: _save(Path(folder), upload) for kind, upload in uploads.items()}
        upgrade_schema(engine)
        try:
            result = import_files(engine, files, trigger="dashboard", actor=actor)
        except ImportValidationError as error:
            show_problems(error.problems)
            return
    data.clear_caches()
    # Rerun so the notices at the top of the page (drawn before this import ran) describe this import,
    # not a failed one before it; the message waits in the session for that run.
    st.session_state[IMPORT_FLASH] = f"Imported. {result}"
    st.rerun()


def import_outcome() -> None:
    """The message of the import that just succeeded (shown once)."""
    message = st.session_state.pop(IMPORT_FLASH, None)
    if message:
        st.success(message)
        st.caption("Run **Refresh now** on the Overview (or wait for the scheduler) to see the new KPIs.")


def _save(folder: Path, upload) -> Path:  # type: ignore[no-untyped-def]
    path = folder / Path(upload.name).name
    path.write_bytes(upload.getvalue())
    return path


def show_problems(problems: list) -> None:  # type: ignore[type-arg]
    """The same report as `territory import`: every problem, naming its file, row and field."""
    st.error(f"Import refused, nothing was written. {len(problems)} problem(s):", icon=":material/block:")
    fields = ("file", "row", "field", "message")
    if problems and all(hasattr(p, f) for p in problems for f in fields):
        st.dataframe(
            pd.DataFrame([{f: getattr(p, f) for f in fields} for p in problems]),
            hide_index=True,
            width="stretch",
        )
    st.code("\n".join(str(p) for p in problems), language=None)


def quality(status: data.DataStatus) -> None:
    checks = data.data_quality(status.url, status.version, status.as_of)
    clean = sum(c.affected == 0 for c in checks)
    st.caption(f"{clean} of {len(checks)} checks clean.")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "check": c.check,
                    "affected": f"{c.affected:,} of {c.total:,}",
                    "share": ui.pct(c.affected / c.total) if c.total else "—",
                    "status": "ok" if c.affected == 0 else "fix",
                    "why it matters": c.why,
                }
                for c in checks
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def job_history(status: data.DataStatus) -> None:
    runs = data.job_runs(status.url, status.version)
    if runs.empty:
        st.caption("No job has run yet.")
        return
    started = pd.to_datetime(runs["started_at"], utc=True)
    seconds = (pd.to_datetime(runs["finished_at"], utc=True) - started).dt.total_seconds()
    st.dataframe(
        pd.DataFrame(
            {
                "job": runs["job"],
                "status": runs["status"],
                "trigger": runs["trigger"],
                "started (UTC)": started.map(moment_label),
                "when": runs["started_at"].map(ui.ago),
                "took": seconds.map(lambda s: "—" if pd.isna(s) else f"{s:,.1f} s"),
                "rows": runs["rows_written"].map(lambda n: f"{int(n):,}"),
                "message / error": [
                    (e or "").strip().splitlines()[0] if isinstance(e, str) and e.strip() else (m or "")
                    for e, m in zip(runs["error"], runs["message"], strict=True)
                ],
            }
        ),
        hide_index=True,
        width="stretch",
        height=ui.table_height(len(runs), max_rows=12),
    )


status = data.data_status()
st.title("Data")
st.subheader("Import CRM exports")
import_form()
import_outcome()

if status.ready:
    st.subheader("Data quality")
    quality(status)
if status.schema:
    st.subheader("Job history")
    job_history(status)
else:
    st.caption("No database yet: an import creates it.")
