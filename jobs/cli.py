"""The `territory` command: set up, import, inspect, refresh, schedule, optimize, alert, run.

Every number the dashboard shows can be had from here. Commands are thin: they parse options,
call jobs/ or core/ and print.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from core.config import Settings, get_settings
from core.db import open_database, upgrade_schema
from jobs.cli_errors import DEBUG, ErrorReportingGroup

app = typer.Typer(
    help="Territory Health: continuous sales-territory health monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=ErrorReportingGroup,
)

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: TERRITORY_DATABASE_URL).")]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="Compute as of this date (YYYY-MM-DD).")]
ActorOption = Annotated[
    str | None, typer.Option("--as", help="Act as this user (an email; default: TERRITORY_USER).")
]


def _engine(db: str | None, *, create: bool = False):  # type: ignore[no-untyped-def]
    """The database of --db (else the settings'); only init/run may create one (core.db.open_database)."""
    return open_database(db or get_settings().database_url, create=create)


EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)


def _parse_date(value: str | None, option: str = "--as-of") -> date | None:
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-23", param_hint=option) from None
    if not EARLIEST <= day <= LATEST:
        raise typer.BadParameter(f"{value} is out of range ({EARLIEST} to {LATEST})", param_hint=option)
    return day


def _acting(engine, who: str | None, action: str):  # type: ignore[no-untyped-def]
    """The user a writing command acts as, checked for ``action``; refused with one line otherwise."""
    from core.auth import AuthError, authorize

    upgrade_schema(engine)
    try:
        return authorize(engine, who or get_settings().user, action)
    except AuthError as error:
        fail(f"refused: {error}")


def _job_actor(engine, who: str | None, what: str) -> str:  # type: ignore[no-untyped-def]
    """Who runs a job from the command line, audited: ``--as`` (or TERRITORY_USER) needs the admin
    role; without either the job runs as ``system``, as the scheduler's do (jobs only derive data)."""
    from core.audit import record_event
    from core.auth import SYSTEM

    email = who or get_settings().user
    actor = _acting(engine, email, "jobs.run").email if email else SYSTEM
    record_event(engine, actor, "jobs.run", what, "cli")
    return actor


def _book_names(engine):  # type: ignore[no-untyped-def]
    """(account id -> name, the territories frame): what move lines need to read in names."""
    from core.queries import load_accounts, load_territories

    names = load_accounts(engine=engine).set_index("external_id")["name"].to_dict()
    return names, load_territories(engine=engine)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    DEBUG["on"] = debug
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- setup and data ---------------------------------------------------------------------------------
@app.command()
def init(
    db: DbOption = None,
    sample: Annotated[
        str, typer.Option(help="Sample book to load: southwest, midmarket, national, custom or none.")
    ] = "southwest",
    seed: Annotated[int, typer.Option(help="Seed of the sample generator.")] = 7,
    reps: Annotated[int | None, typer.Option(help="Reps of a custom book.")] = None,
    accounts: Annotated[int | None, typer.Option(help="Accounts of a custom book.")] = None,
    states: Annotated[str | None, typer.Option(help="States of a custom book, e.g. AZ,NV,UT.")] = None,
    as_of: AsOfOption = None,
    force: Annotated[
        bool, typer.Option(help="Load the sample even when the database already holds accounts.")
    ] = False,
    who: ActorOption = None,
) -> None:
    """Create the schema (or upgrade it in place, keeping data) and load a sample book.

    Loading a sample into a database that already has users needs an admin (--as or TERRITORY_USER);
    re-running init where it only upgrades the schema and reports needs no one.
    """
    from core.auth import count_users
    from core.queries import table_counts
    from jobs.setup import initialise

    engine = _engine(db, create=True)
    upgrade_schema(engine)
    loads = sample != "none" and (force or not table_counts(engine=engine)["accounts"])
    if loads and count_users(engine):
        actor = _acting(engine, who or get_settings().user, "jobs.run")
        from core.audit import record_event

        record_event(engine, actor.email, "jobs.run", f"init: load the {sample} sample", "cli")
    try:
        report = initialise(
            engine,
            sample=None if sample == "none" else sample,
            seed=seed,
            reps=reps,
            accounts=accounts,
            states=states.split(",") if states else None,
            as_of=_parse_date(as_of),
            force=force,
        )
    except ValueError as error:
        fail(str(error))
    typer.echo(report)


@app.command("import")
def import_(
    db: DbOption = None,
    reps: Annotated[Path | None, typer.Option(help="Reps CSV.")] = None,
    accounts: Annotated[Path | None, typer.Option(help="Accounts CSV.")] = None,
    revenue: Annotated[Path | None, typer.Option(help="Monthly revenue CSV.")] = None,
    activities: Annotated[Path | None, typer.Option(help="Activities CSV.")] = None,
    opportunities: Annotated[Path | None, typer.Option(help="Opportunities CSV.")] = None,
    quotas: Annotated[Path | None, typer.Option(help="Quotas CSV.")] = None,
    who: ActorOption = None,
    salesforce_users: Annotated[
        Path | None, typer.Option(help="Salesforce User export (Id, Name, Email): maps reps to User ids.")
    ] = None,
    salesforce_territories: Annotated[
        Path | None,
        typer.Option(help="Salesforce Territory2 export (Id, Name, DeveloperName): maps territories to ids."),
    ] = None,
) -> None:
    """Import CRM exports: everything is validated first; on any problem nothing is written.

    The Salesforce User and Territory2 exports map our reps and territories to Salesforce ids for
    `territory plans export --format owners|etm` (after the book files, each file all or nothing).
    """
    from core.audit import record_event
    from core.importing import ImportValidationError, import_files
    from core.importing.salesforce import import_salesforce_mapping

    files = {
        kind: path
        for kind, path in {
            "reps": reps,
            "accounts": accounts,
            "revenue": revenue,
            "activities": activities,
            "opportunities": opportunities,
            "quotas": quotas,
        }.items()
        if path is not None
    }
    mappings = {
        kind: path
        for kind, path in {
            "salesforce_users": salesforce_users,
            "salesforce_territories": salesforce_territories,
        }.items()
        if path is not None
    }
    if not files and not mappings:
        fail(
            "nothing to import: give at least one of --reps --accounts --revenue --activities "
            "--opportunities --quotas --salesforce-users --salesforce-territories"
        )
    engine = _engine(db)
    actor = _acting(engine, who, "import")
    done: list[str] = []
    try:
        if files:
            done.append(str(import_files(engine, files, actor=actor)))
            typer.echo(done[-1])
        for kind, path in mappings.items():
            done.append(str(import_salesforce_mapping(engine, path, kind)))
            typer.echo(done[-1])
    except ImportValidationError as error:
        typer.secho(
            f"Import refused, nothing was written. {len(error.problems)} problem(s):",
            fg=typer.colors.RED,
            err=True,
        )
        for problem in error.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    if mappings:  # the book files' import records its own audit event, in its transaction
        record_event(
            engine, actor.email, "import", f"imported {', '.join(sorted(mappings))}: {done[-1]}", "cli"
        )


@app.command()
def status(
    db: DbOption = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Row counts, the current forecast run and the last job runs."""
    from core.queries import load_job_runs, table_counts

    engine = _engine(db)
    upgrade_schema(engine)
    counts = table_counts(engine=engine)
    runs = load_job_runs(engine=engine, limit=10)
    last_runs = [
        {
            "job": r.job,
            "status": r.status,
            "started_at": str(r.started_at),
            "finished_at": str(r.finished_at),
            "rows_written": int(r.rows_written),
            "error": (r.error or "").splitlines()[0] if r.error else None,
        }
        for r in runs.itertuples()
    ]
    if as_json:
        typer.echo(json.dumps({**counts, "last_runs": last_runs}, indent=2))
        return
    for name, value in counts.items():
        typer.echo(f"{name:>15}: {value:,}")
    typer.echo("last job runs:" if last_runs else "no job has run yet")
    for run in last_runs:
        typer.echo(
            f"  {run['started_at'][:19]}  {run['job']:<10} {run['status']:<8} rows={run['rows_written']:,}"
            + (f"  error: {run['error']}" if run["error"] else "")
        )


@app.command("accounts")
def accounts_cmd(
    csv: Annotated[Path, typer.Option("--csv", help="Write the book to this CSV file ('-' for stdout).")],
    db: DbOption = None,
    as_of: AsOfOption = None,
) -> None:
    """The book as a CSV: account, territory, owner, state, industry, trailing revenue, flags, potential.

    With --as-of, each account's territory is the one in force on that date (assignment history);
    without it, today's assignment.
    """
    from core.queries import accounts_export
    from core.spreadsheet import safe_for_spreadsheet

    engine = _engine(db)
    day = _parse_date(as_of)
    frame = safe_for_spreadsheet(accounts_export(engine=engine, as_of=day or date.today(), assigned_on=day))
    if str(csv) == "-":
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(csv, index=False)
        typer.echo(f"wrote {len(frame):,} accounts to {csv}")


@app.command("settings")
def settings_cmd(markdown: Annotated[bool, typer.Option(help="Print a Markdown table.")] = False) -> None:
    """Every setting with its environment variable, default and description."""
    for line in settings_table(markdown=markdown):
        typer.echo(line)


def settings_table(*, markdown: bool) -> list[str]:
    lines = ["| variable | default | description |", "| --- | --- | --- |"] if markdown else []
    for name, field in Settings.model_fields.items():
        variable = f"TERRITORY_{name.upper()}"
        default = field.default
        if markdown:
            lines.append(f"| `{variable}` | `{default}` | {field.description} |")
        else:
            lines.append(f"{variable} = {default!r}\n    {field.description}")
    return lines


# --- jobs -----------------------------------------------------------------------------------------
REFRESH_TARGETS = ("forecasts", "kpis", "alerts", "all")


@app.command()
def refresh(
    target: Annotated[str, typer.Argument(help="forecasts, kpis, alerts or all.")],
    db: DbOption = None,
    as_of: AsOfOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Refit every account, not only changed histories.")
    ] = False,
    who: ActorOption = None,
) -> None:
    """Run a job now: forecasts, KPIs, alerts, or all three in that order.

    With --as (or TERRITORY_USER) the user must be an admin; without, the job runs as ``system``.
    """
    if target not in REFRESH_TARGETS:
        fail(f"unknown refresh target {target!r}; choose one of {', '.join(REFRESH_TARGETS)}")
    day = _parse_date(as_of)
    engine = _engine(db)
    upgrade_schema(engine)
    _job_actor(engine, who, f"refresh {target}" + (f" as of {day}" if day else ""))
    if target in ("forecasts", "all"):
        _refresh_forecasts(engine, day, full)
    if target == "all":  # plans scheduled for today take effect before today's KPIs
        from jobs.cli_apply import apply_due_words

        typer.echo(apply_due_words(engine))
    if target in ("kpis", "all"):
        from jobs.kpis import refresh_kpis

        rows = refresh_kpis(engine, as_of=day)
        typer.echo(f"KPI snapshot {day or date.today()}: {rows:,} rows")
    if target in ("alerts", "all"):
        from jobs.alerts import refresh_alerts

        created = refresh_alerts(engine)
        typer.echo(f"alerts evaluated: {created} notification(s) created")


def _refresh_forecasts(engine, day: date | None, full: bool) -> None:  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from jobs.forecasts import refresh_forecasts

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as progress:
        task = progress.add_task("fitting forecasts", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        run_id = refresh_forecasts(engine, as_of=day, full=full, on_progress=update)
    typer.echo(f"forecast run {run_id} is current")


@app.command()
def scheduler(db: DbOption = None, who: ActorOption = None) -> None:
    """Run the scheduled jobs (forecasts nightly, KPIs hourly, alerts after each KPI refresh).

    The jobs act as ``system``; with --as (or TERRITORY_USER) the admin who started it is audited.
    """
    from jobs.scheduler import run_scheduler

    engine = _engine(db)
    upgrade_schema(engine)
    _job_actor(engine, who, "started the scheduler")
    logging.getLogger().setLevel(logging.INFO)
    run_scheduler(engine.url.render_as_string(hide_password=False))


@app.command()
def kpis(
    db: DbOption = None,
    as_of: AsOfOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The latest KPI snapshot (or the one of --as-of), per territory and for the team."""
    from jobs.report import kpi_report

    engine = _engine(db)
    report = kpi_report(engine, snapshot_date=_parse_date(as_of))
    if report is None:
        fail("no KPI snapshot yet: run `territory refresh kpis` first")
    typer.echo(json.dumps(report.as_dict(), indent=2, default=str) if as_json else report.as_text())


@app.command()
def backtest(
    series: Annotated[
        Path, typer.Option("--series", help="CSV of series: unique_id,t,year,month,y,is_test.")
    ],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here.")] = None,
    inner: Annotated[
        bool, typer.Option("--inner", help="Score each series' last 18 training months instead.")
    ] = False,
    anchors: Annotated[
        bool, typer.Option(help="Also run statsforecast's AutoETS, DOT and ETS/DOT/CES median.")
    ] = True,
) -> None:
    """Score the product's forecaster against default Prophet, seasonal naive and statistical anchors."""
    from core.backtest import ANCHORS, MODELS, format_backtest_table, run_backtest, statsforecast_installed

    if not series.is_file():
        fail(f"{series}: no such file")
    models: tuple[str, ...] = MODELS
    if anchors and not statsforecast_installed():
        typer.echo("statsforecast is not installed (pip install territory-health[bench]): anchors skipped")
    elif anchors:
        models = MODELS + ANCHORS
    result = run_backtest(series, models=models, split="inner" if inner else "test")
    typer.echo(format_backtest_table(result))
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=2))
        typer.echo(f"wrote {json_out}")


@app.command()
def run(
    db: DbOption = None,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
    sample: Annotated[str, typer.Option(help="Sample loaded into an empty database.")] = "southwest",
    headless: Annotated[bool, typer.Option(help="Do not open a browser.")] = True,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (default this machine only; 0.0.0.0 for every interface)."),
    ] = "127.0.0.1",
) -> None:
    """Set up the database (sample book when empty, first admin), start the scheduler and the dashboard."""
    from jobs.launch import launch

    url = _engine(db, create=True).url.render_as_string(hide_password=False)
    raise typer.Exit(launch(url, port=port, sample=sample, headless=headless, host=host))


# --- optimize and plans --------------------------------------------------------------------------
@app.command("optimize")
def optimize_cmd(
    scenario: Annotated[Path, typer.Option("--scenario", help="Scenario TOML file (see scenarios/).")],
    db: DbOption = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds (default: the scenario's).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON here.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Store the plan as a draft.")] = False,
    frontier_budgets: Annotated[
        str | None,
        typer.Option(
            "--frontier", help="Also solve these move budgets, e.g. 0,10,20,40, and print balance per budget."
        ),
    ] = None,
    hire_reps: Annotated[
        int | None,
        typer.Option(
            "--hire",
            min=1,
            help="What-if: place this many new reps at the cities that most improve balance and coverage.",
        ),
    ] = None,
    as_of: AsOfOption = None,
    who: ActorOption = None,
) -> None:
    """Solve a rebalance scenario on today's book and print a summary (moves, before/after, gap)."""
    from jobs.optimize import churn_frontier, hire, optimize, save_run
    from jobs.optimize_report import frontier_text, result_text

    parsed = _read_scenario(scenario)
    budgets = _parse_budgets(frontier_budgets)
    if time_limit is not None and not 0 < time_limit <= MAX_TIME_LIMIT_S:
        raise typer.BadParameter(
            f"{time_limit:g} is not a time limit: give seconds above 0, at most {MAX_TIME_LIMIT_S:g}",
            param_hint="--time-limit",
        )
    day = _parse_date(as_of)
    engine = _engine(db)
    upgrade_schema(engine)
    planner = _acting(engine, who, "plan.create") if save else None
    hired = None
    try:
        if hire_reps:
            hired = hire(engine, parsed, hire_reps, as_of=day, time_limit_s=time_limit)
            run = hired.run
            typer.echo("\n".join(hired.plan.describe()))
        else:
            run = optimize(engine, parsed, as_of=day, time_limit_s=time_limit)
    except ValueError as error:
        fail(f"{scenario}: {error}")
    typer.echo(result_text(run.result, *_book_names(engine)))
    document = run.result.to_json_dict()
    if hired is not None:
        document["hire"] = hired.plan.to_json_dict()
    if budgets:
        curve = churn_frontier(run, budgets, time_limit_s=time_limit)
        typer.echo(frontier_text(curve))
        document.update(curve.to_json_dict())
    if json_out is not None:
        json_out.write_text(json.dumps(document, indent=2, default=str))
        typer.echo(f"wrote {json_out}")
    if save:
        try:
            plan_id = save_run(engine, run, name=parsed.name, created_by=planner.email if planner else None)
        except ValueError as error:
            fail(str(error))
        typer.echo(
            f"saved as draft plan {plan_id}: `territory plans submit {plan_id}`, then an approver "
            f"runs `plans approve {plan_id}` and `plans apply {plan_id}`"
        )
    if not run.result.has_plan:
        raise typer.Exit(2)


MAX_TIME_LIMIT_S = 7 * 24 * 3600.0


def _read_scenario(path: Path):  # type: ignore[no-untyped-def]
    """The scenario of a TOML file, or one line naming the file and what is wrong with it."""
    from pydantic import ValidationError

    from core.rebalance import Scenario

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"{path}: cannot read the scenario ({getattr(error, 'strerror', None) or error})")
    if not text.strip():
        fail(f"{path}: the scenario file is empty (see scenarios/ for examples)")
    try:
        return Scenario.from_toml(text if "\n" in text else text + "\n")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'scenario'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        fail(f"{path}: {problems}")
    except ValueError as error:  # TOML syntax
        fail(f"{path}: {error}")


def _parse_budgets(text: str | None) -> list[int]:
    """``--frontier 0,10,20`` as move budgets (whole numbers, at least 0)."""
    if text is None:
        return []
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(part.isdigit() for part in parts):
        raise typer.BadParameter(
            f"{text!r} is not a list of move budgets like 0,10,20,40", param_hint="--frontier"
        )
    return [int(part) for part in parts]


plans_app = typer.Typer(
    help="Saved rebalance plans: list, show, submit, approve, reject, apply, export.", no_args_is_help=True
)
app.add_typer(plans_app, name="plans")


@plans_app.command("list")
def plans_list(
    db: DbOption = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Saved plans, newest first: id, name, status, who created, approved and applied each."""
    from core.plans import list_plans

    engine = _engine(db)
    upgrade_schema(engine)
    plans = list_plans(engine)
    if as_json:
        typer.echo(json.dumps([p.as_dict() for p in plans], indent=2, default=str))
        return
    if not plans:
        typer.echo("no saved plans: `territory optimize --scenario FILE --save` makes one")
    for plan in plans:
        gap = "—" if plan.gap is None else f"{plan.gap:.2%}"
        typer.echo(
            f"{plan.id:>4}  {plan.status_words:<10} {plan.created_at}  {plan.moves:>4} moves  gap {gap:>7}  "
            f"{plan.solver_status:<9} {plan.name}  "
            f"(created by {plan.created_by or '—'}, approved by {plan.approved_by or '—'}, "
            f"applied by {plan.applied_by or '—'})"
        )


@plans_app.command("show")
def plans_show(
    plan_id: int,
    db: DbOption = None,
    impact: Annotated[bool, typer.Option("--impact", help="What the plan does to each rep.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --impact: print JSON.")] = False,
    quota_method: Annotated[
        str, typer.Option(help="With --impact: none | potential | revenue.")
    ] = "potential",
    effective: Annotated[str | None, typer.Option(help="With --impact: effective date.")] = None,
) -> None:
    """A plan's summary and moves (--impact: per rep, what it gains and loses, before and after)."""
    from core.plans import PlanError, get_plan
    from jobs.cli_edits import edits_text
    from jobs.optimize_report import plan_text

    if impact:
        from jobs.cli_impact import show_impact

        return show_impact(
            _engine(db), plan_id, as_json=as_json, quota_method=quota_method, effective=effective
        )
    engine = _engine(db)
    try:
        typer.echo(plan_text(get_plan(engine, plan_id), *_book_names(engine)))
        typer.echo(edits_text(engine, plan_id))
    except PlanError as error:
        fail(str(error))


CommentOption = Annotated[str | None, typer.Option("--comment", help="A comment kept with the decision.")]


def _plan_step(db: str | None, who: str | None, action: str, step) -> None:  # type: ignore[no-untyped-def]
    from core.auth import AuthError
    from core.plans import PlanError

    engine = _engine(db)
    actor = _acting(engine, who, action)
    try:
        step(engine, actor.email)
    except (PlanError, AuthError) as error:
        fail(f"refused: {error}")


@plans_app.command("rename")
def plans_rename(plan_id: int, name: str, db: DbOption = None, who: ActorOption = None) -> None:
    """Rename a draft (planner)."""
    from core.plans import rename_plan

    _plan_step(db, who, "plan.edit", lambda e, a: rename_plan(e, plan_id, name, actor=a))
    typer.echo(f"plan {plan_id} renamed")


@plans_app.command("submit")
def plans_submit(
    plan_id: int, db: DbOption = None, who: ActorOption = None, comment: CommentOption = None
) -> None:
    """Submit a draft for approval (planner); emails the approvers."""
    from core.plans import submit_plan

    _plan_step(db, who, "plan.submit", lambda e, a: submit_plan(e, plan_id, actor=a, comment=comment))
    typer.echo(f"plan {plan_id} submitted for approval")


@plans_app.command("approve")
def plans_approve(
    plan_id: int, db: DbOption = None, who: ActorOption = None, comment: CommentOption = None
) -> None:
    """Approve a submitted plan (approver; not your own unless TERRITORY_ALLOW_SELF_APPROVAL)."""
    from core.plans import approve_plan

    _plan_step(db, who, "plan.approve", lambda e, a: approve_plan(e, plan_id, approver=a, comment=comment))
    typer.echo(f"plan {plan_id} approved")


@plans_app.command("reject")
def plans_reject(
    plan_id: int,
    db: DbOption = None,
    who: ActorOption = None,
    comment: Annotated[str, typer.Option("--comment", help="Why it is rejected (required).")] = "",
) -> None:
    """Reject a submitted plan, saying why (approver)."""
    from core.plans import reject_plan

    _plan_step(db, who, "plan.reject", lambda e, a: reject_plan(e, plan_id, actor=a, comment=comment))
    typer.echo(f"plan {plan_id} rejected")


@plans_app.command("apply")
def plans_apply(
    plan_id: int,
    db: DbOption = None,
    who: ActorOption = None,
    effective: Annotated[
        str | None,
        typer.Option(
            "--effective-date", "--effective", help="Today (the default) or later: a later date schedules it."
        ),
    ] = None,
    quota_method: Annotated[
        str,
        typer.Option("--quota-method", help="Quota that follows the accounts: none, potential or revenue."),
    ] = "potential",
    comment: CommentOption = None,
) -> None:
    """Apply an approved plan today, or schedule it for a later date; emails the affected reps."""
    from jobs.cli_apply import apply_words

    _plan_step(
        db, who, "plan.apply", lambda e, a: typer.echo(apply_words(e, plan_id, a, effective, quota_method))
    )


@plans_app.command("export")
def plans_export(
    plan_id: int,
    csv: Annotated[Path, typer.Option("--csv", help="Output CSV ('-' for stdout).")],
    format_: Annotated[
        str,
        typer.Option(
            "--format",
            help="moves: our CSV of the moves; owners: Salesforce Data Loader update of Account "
            "(Id, OwnerId); etm: ObjectTerritory2Association inserts, plus the deletes in OUT-delete.csv.",
        ),
    ] = "moves",
    db: DbOption = None,
) -> None:
    """CRM-ready files of a plan (spreadsheet-safe); see docs/crm.md for the Salesforce formats."""
    from core.crm_export import FORMATS, MissingSalesforceIds, etm_files, owners_file
    from core.plans import PlanError, plan_export

    if format_ not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, not {format_!r}")
    if format_ == "etm" and str(csv) == "-":
        fail("--format etm writes two files (inserts and deletes): give --csv a file path")
    engine = _engine(db)
    try:
        if format_ == "etm":
            files = etm_files(engine, plan_id)
            delete = csv.with_name(f"{csv.stem}-delete{csv.suffix or '.csv'}")
            files.associate.to_csv(csv, index=False)
            files.remove.to_csv(delete, index=False)
            typer.echo(
                f"wrote {len(files.associate)} associations to insert to {csv} "
                f"and {len(files.remove)} to delete to {delete}"
            )
            return
        frame = owners_file(engine, plan_id) if format_ == "owners" else plan_export(engine, plan_id)
    except (PlanError, MissingSalesforceIds) as error:
        fail(str(error))
    if str(csv) == "-":
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(csv, index=False)
        typer.echo(f"wrote {len(frame)} {'account owners' if format_ == 'owners' else 'moves'} to {csv}")


# --- users and the audit trail ---------------------------------------------------------------------
users_app = typer.Typer(help="Who may sign in, and with which role (admin only).", no_args_is_help=True)
app.add_typer(users_app, name="users")
RoleOption = Annotated[str, typer.Option("--role", help="viewer, planner, approver or admin.")]


def _read_password(password_stdin: bool) -> str | None:
    if not password_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password on standard input")
    return password


def _user_change(db: str | None, who: str | None, change) -> None:  # type: ignore[no-untyped-def]
    from core.auth import AuthError

    engine = _engine(db)
    actor = _acting(engine, who, "users.manage")
    try:
        change(engine, actor)
    except (ValueError, AuthError) as error:
        fail(f"refused: {error}")


@users_app.command("add")
def users_add(
    email: str,
    role: RoleOption,
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input (else SSO only).")
    ] = False,
    db: DbOption = None,
    who: ActorOption = None,
) -> None:
    """Add a user: with --password-stdin a local account, else single sign-on only."""
    from core.auth import create_user

    password = _read_password(password_stdin)
    _user_change(
        db, who, lambda e, a: create_user(e, email, role=role, password=password, name=name, actor=a)
    )
    typer.echo(f"added {email.strip().lower()} as {role}")


@users_app.command("list")
def users_list(
    db: DbOption = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Every user with role, state and last sign-in (never a password or hash)."""
    from dataclasses import asdict

    from core.auth import list_users

    engine = _engine(db)
    upgrade_schema(engine)
    users = list_users(engine)
    if as_json:
        typer.echo(json.dumps([asdict(u) for u in users], indent=2, default=str))
        return
    for user in users:
        state = "disabled" if not user.active else "locked" if user.locked else "active"
        kind = "local" if user.local else "sso"
        typer.echo(f"{user.email:<32} {user.role:<9} {state:<9} {kind:<6} {user.name}")


@users_app.command("set-role")
def users_set_role(email: str, role: RoleOption, db: DbOption = None, who: ActorOption = None) -> None:
    """Change a user's role."""
    from core.auth import set_role

    _user_change(db, who, lambda e, a: set_role(e, email, role, actor=a))
    typer.echo(f"{email} is now {role}")


@users_app.command("disable")
def users_disable(email: str, db: DbOption = None, who: ActorOption = None) -> None:
    """Disable a user and end their sessions everywhere."""
    from core.auth import disable_user

    _user_change(db, who, lambda e, a: disable_user(e, email, actor=a))
    typer.echo(f"{email} is disabled")


@users_app.command("reset-password")
def users_reset_password(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = True,
    db: DbOption = None,
    who: ActorOption = None,
) -> None:
    """Set a new password (read from standard input); unlocks and signs the user out everywhere."""
    from core.auth import reset_password

    password = _read_password(True)
    assert password is not None
    _user_change(db, who, lambda e, a: reset_password(e, email, password, actor=a))
    typer.echo(f"password of {email} reset")


@app.command("audit")
def audit_cmd(
    db: DbOption = None,
    since: Annotated[str | None, typer.Option("--since", help="From this day (YYYY-MM-DD).")] = None,
    plan: Annotated[int | None, typer.Option("--plan", help="Only this plan's events.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The audit trail: who did what, when and from where (page or CLI), newest first."""
    from core.audit import list_events

    engine = _engine(db)
    upgrade_schema(engine)
    events = list_events(engine, since=_parse_date(since, "--since"), plan_id=plan)
    if as_json:
        typer.echo(json.dumps([e.as_dict() for e in events], indent=2, default=str))
        return
    if not events:
        typer.echo("no audit events")
    for event in events:
        typer.echo(event.as_line())


# --- alerts -----------------------------------------------------------------------------------------
alerts_app = typer.Typer(help="Alert rules, episodes and email.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("list")
def alerts_list(db: DbOption = None) -> None:
    """The rules (threshold, severity, scope, recipients, re-notify interval, on/off) and open episodes."""
    from jobs.alerts import alert_overview

    engine = _engine(db)
    upgrade_schema(engine)
    typer.echo(alert_overview(engine))


@alerts_app.command("set")
def alerts_set(
    key: Annotated[str, typer.Argument(help="Rule key, as `territory alerts list` prints it.")],
    db: DbOption = None,
    threshold: Annotated[float | None, typer.Option(help="New threshold, in the rule's units.")] = None,
    severity: Annotated[str | None, typer.Option(help="info, warning or critical.")] = None,
    scope: Annotated[str | None, typer.Option(help="territory or team.")] = None,
    recipients: Annotated[
        str | None, typer.Option(help="Comma-separated addresses ('' for the default list).")
    ] = None,
    renotify_hours: Annotated[
        float | None, typer.Option(help="Hours before an open episode notifies again.")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn the rule on or off.")
    ] = None,
    who: ActorOption = None,
) -> None:
    """Edit one alert rule."""
    from jobs.alerts import RuleEditError, edit_rule

    engine = _engine(db)
    actor = _acting(engine, who, "alerts.edit")
    try:
        rule = edit_rule(
            engine,
            key,
            threshold=threshold,
            severity=severity,
            scope=scope,
            recipients=recipients,
            renotify_hours=renotify_hours,
            enabled=enabled,
            actor=actor,
        )
    except RuleEditError as error:
        fail(str(error))
    typer.echo(f"updated: {rule}")


@alerts_app.command("test-email")
def alerts_test_email(
    to: Annotated[str | None, typer.Option(help="Recipient (default: the alert list).")] = None,
    db: DbOption = None,
    who: ActorOption = None,
) -> None:
    """Send a test email through the configured SMTP server."""
    from core.alerts import send_test_email
    from core.audit import record_event

    engine = _engine(db)
    actor = _acting(engine, who, "email.test")
    settings = get_settings()
    if not settings.smtp_host:
        fail(
            "no SMTP host configured (TERRITORY_SMTP_HOST): alert emails go to the outbox on the Alerts page"
        )
    recipients = [to] if to else settings.recipients
    server = f"{settings.smtp_host}:{settings.smtp_port}"
    for recipient in recipients:
        # audited before it goes out: a send is never unattributed, and a failure is recorded too
        record_event(engine, actor.email, "email.test", f"test email to {recipient} through {server}", "cli")
        try:
            send_test_email(settings, recipient)
        except OSError as error:
            record_event(
                engine, actor.email, "email.test", f"test email to {recipient} failed: {error}", "cli"
            )
            fail(f"could not send to {recipient} through {server}: {error}")
        typer.echo(f"sent a test email to {recipient}")


def main() -> None:  # pragma: no cover - console entry point alias
    app()


import jobs.cli_apply  # noqa: E402,F401  (registers plans unschedule)
import jobs.cli_edits  # noqa: E402,F401  (registers plans edit/resolve)
import jobs.cli_handoff  # noqa: E402,F401  (registers plans handoff)
import jobs.cli_impact  # noqa: E402,F401  (registers plans compare)
import jobs.cli_review  # noqa: E402,F401  (registers plans outcome)
