"""`territory plans handoff ID --out DIR`: one HTML file per affected rep, safe names, one-line refusals."""

from __future__ import annotations

from typer.testing import CliRunner

from core.handoff import render_handoff_html
from jobs.cli import app
from tests.core.test_handoff import AS_OF, EXPECTED, XSS, PackPage, approved, saved, small_book

runner = CliRunner()


def test_handoff_writes_one_pack_per_affected_rep(engine, db_url, tmp_path):
    small_book(engine)
    plan_id = approved(engine)
    out = tmp_path / "packs" / "q1"  # created when missing
    args = ["plans", "handoff", str(plan_id), "--out", str(out), "--db", db_url, "--as-of", AS_OF.isoformat()]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    files = {"T1": "img-src-x-onerror-alert-1-t1.html", "T2": "bold-t2.html", "T3": "cy-lee-t3.html"}
    assert sorted(p.name for p in out.iterdir()) == sorted(files.values())
    for territory, name in files.items():
        page = (out / name).read_text(encoding="utf-8")
        gains, losses = EXPECTED[territory]
        rows = PackPage(page).rows
        assert sorted(rows["gains"]) == sorted(gains) and sorted(rows["losses"]) == sorted(losses)
        assert f"wrote {out / name}: " in result.output
    assert f"{XSS} (Territory 1), 1 joining, 2 leaving" in result.output  # the name as written, as text
    assert "<img" not in (out / files["T1"]).read_text(encoding="utf-8")


def test_the_files_are_the_packs_of_core(engine, db_url, tmp_path):
    from core.handoff import handoff_packs

    small_book(engine)
    plan_id = approved(engine)
    args = [
        "plans",
        "handoff",
        str(plan_id),
        "--out",
        str(tmp_path),
        "--db",
        db_url,
        "--as-of",
        AS_OF.isoformat(),
    ]
    assert runner.invoke(app, args).exit_code == 0
    for pack in handoff_packs(engine, plan_id, as_of=AS_OF):
        assert (tmp_path / pack.file_name).read_text(encoding="utf-8") == render_handoff_html(pack)


def test_a_draft_or_a_missing_plan_is_refused_in_one_line(engine, db_url, tmp_path):
    small_book(engine)
    plan_id = saved(engine)
    result = runner.invoke(
        app, ["plans", "handoff", str(plan_id), "--out", str(tmp_path / "x"), "--db", db_url]
    )
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"refused: plan {plan_id} is draft: handoff packs are for approved, scheduled or applied plans"
    )
    assert not (tmp_path / "x").exists()
    missing = runner.invoke(app, ["plans", "handoff", "999", "--out", str(tmp_path), "--db", db_url])
    assert missing.exit_code == 1 and missing.output.strip() == "refused: there is no plan 999"
