"""Handoff packs on the Optimize page: a download per affected rep of a saved plan (core.handoff).

Shown for an approved, scheduled or applied plan; each button downloads the rep's printable,
self-contained HTML page. Names in labels are data, escaped for Markdown (components.as_text).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from core.handoff import HANDOFF_STATUSES, file_names, handoff_packs, render_handoff_html
from core.plans import SavedPlan
from dashboard import components, data

PER_ROW = 3


@dataclass(frozen=True)
class PackFile:
    label: str  # Markdown-safe
    file_name: str
    html: str


@st.cache_data(ttl=data.TTL, max_entries=8, show_spinner=False)
def pack_files(url: str, version: str, plan_id: int, plan_status: str) -> list[PackFile]:
    """The plan's packs as files (cached per data version and plan status: both change what they say)."""
    packs = handoff_packs(data.engine_for(url), plan_id)
    return [
        PackFile(
            f"{components.as_text(pack.rep.name)} · {components.as_text(pack.territory.name)}",
            name,
            render_handoff_html(pack),
        )
        for name, pack in zip(file_names(packs), packs, strict=True)
    ]


def render_handoff_downloads(plan: SavedPlan, status: data.DataStatus) -> None:
    """A download button per affected rep for an approved, scheduled or applied plan; nothing otherwise."""
    if plan.status not in HANDOFF_STATUSES:
        return
    files = pack_files(status.url, status.version, plan.id, plan.status)
    st.subheader("Handoff packs")
    if not files:
        st.caption("The plan moves no account of a territory with a rep: there is no pack to hand over.")
        return
    st.caption(
        "One printable page per rep whose territory gains or loses accounts: the moves with their reasons, "
        "the risky ones with a recommended handoff, open deals, last activities and first-90-days "
        "priorities (docs/handoff.md)."
    )
    for start in range(0, len(files), PER_ROW):
        row = files[start : start + PER_ROW]
        for column, pack in zip(st.columns(PER_ROW), row, strict=False):
            column.download_button(
                pack.label,
                pack.html,
                file_name=pack.file_name,
                mime="text/html",
                icon=":material/download:",
                key=f"handoff-{plan.id}-{pack.file_name}",
            )
