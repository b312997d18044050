"""The Optimize page offers one handoff pack download per affected rep of an approved or applied plan."""

from __future__ import annotations

from typing import Any

from core.handoff import handoff_packs, render_handoff_html
from core.plans import apply_plan
from dashboard.components import as_text
from tests.core.test_handoff import APPROVER, BOLD, XSS, approved, saved, small_book


def downloads(at) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The page's download buttons by label (the proto keeps the label as sent: Markdown-escaped)."""
    return {button.proto.label: button.proto for button in at.get("download_button")}


def test_a_download_per_affected_rep_once_the_plan_is_approved(page, engine, db_url):
    small_book(engine)
    draft, plan_id = saved(engine), approved(engine)
    at = page(db_url, "optimize", role="viewer", plan=str(draft))
    assert not at.exception, at.exception
    assert set(downloads(at)) == {"Export CRM CSV"}  # a draft may still change: no packs
    at = page(db_url, "optimize", role="viewer", plan=str(plan_id))
    assert not at.exception, at.exception
    labels = set(downloads(at)) - {"Export CRM CSV"}
    assert labels == {
        f"{as_text(XSS)} · Territory 1",  # names are data: shown as written, never as Markdown
        f"{as_text(BOLD)} · Territory 2",
        "Cy Lee · Territory 3",
    }
    assert "Handoff packs" in [h.value for h in at.subheader]


def test_the_download_is_the_reps_pack(page, engine, db_url):
    """The button serves exactly the rep's page: Streamlit names a served file by the hash of its
    content, type and name (a private helper, used here to read what the button hands over)."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    small_book(engine)
    plan_id = approved(engine)
    apply_plan(engine, plan_id, actor=APPROVER)
    at = page(db_url, "optimize", role="viewer", plan=str(plan_id))
    assert not at.exception, at.exception
    button = downloads(at)[f"{as_text(BOLD)} · Territory 2"]
    pack = next(p for p in handoff_packs(engine, plan_id) if p.territory.external_id == "T2")
    served = _calculate_file_id(render_handoff_html(pack).encode(), "text/html", "bold-t2.html")
    assert button.url.endswith(f"/{served}.html")
