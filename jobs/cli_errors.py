"""How the `territory` command fails: one clear line, a non-zero exit, no traceback.

Every command runs inside ``ErrorReportingGroup.invoke``: an error a user can act on (a database
that cannot be opened or reached, a bad setting, a bad option value) becomes one line naming the
culprit, and anything else one line with its type; ``territory --debug ...`` re-raises instead, so
the traceback shows. Passwords of the database URLs in play are masked in every line.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import quote_plus, unquote

import typer
from pydantic import ValidationError
from typer._click.core import Context
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from core.db import explain_database_error

DEBUG = {"on": False}
URL_OPTIONS = ("--db",)


class ErrorReportingGroup(TyperGroup):
    """The top-level group: turns errors of any subcommand into one line (see module docstring)."""

    def invoke(self, ctx: Context) -> Any:
        args = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, NoArgsIsHelpError):
            raise
        except UsageError as error:
            if DEBUG["on"]:
                raise
            hint = f" ({error.ctx.command_path})" if error.ctx is not None else ""
            _report(f"Error{hint}: {error.format_message()}", args)
            ctx.exit(error.exit_code)
        except Exception as error:
            if DEBUG["on"]:
                raise
            _report(explain(error, url=_url_in(args)), args)
            ctx.exit(1)


def explain(error: BaseException, *, url: str | None = None) -> str:
    """One line for ``error``."""
    line = explain_database_error(error, url or os.environ.get("TERRITORY_DATABASE_URL"))
    if line is not None:
        return line
    if isinstance(error, ValidationError):
        problems = "; ".join(
            f"TERRITORY_{'_'.join(str(part) for part in problem['loc']).upper()}: {problem['msg']}"
            for problem in error.errors(include_input=False, include_url=False)
        )
        return f"settings: {problems}"
    if isinstance(error, ModuleNotFoundError) and (error.name or "").startswith("psycopg"):
        return "PostgreSQL needs its driver: pip install 'psycopg[binary]' (or the [postgres] extra)"
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {message} (territory --debug ... shows the traceback)"


def _url_in(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        if arg in URL_OPTIONS and i + 1 < len(args):
            return args[i + 1]
        for option in URL_OPTIONS:
            if arg.startswith(f"{option}="):
                return arg.split("=", 1)[1]
    return None


def _passwords(args: list[str]) -> set[str]:
    """Every password of a database URL in the arguments or the environment, as typed and decoded."""
    found: set[str] = set()
    for url in (_url_in(args), os.environ.get("TERRITORY_DATABASE_URL")):
        match = re.match(r"^[^:/]+://[^:@/]*:([^@/]*)@", url or "")
        if match and match.group(1):
            raw = match.group(1)
            found |= {raw, unquote(raw), quote_plus(unquote(raw))}
    return found


def _report(line: str, args: list[str]) -> None:
    # URLs in messages are already masked (core.db.masked); this catches a password echoed in a
    # driver's message. A password of under 4 characters would mask ordinary words: left alone.
    for password in sorted((p for p in _passwords(args) if len(p) >= 4), key=len, reverse=True):
        line = line.replace(password, "***")
    typer.secho(line, fg=typer.colors.RED, err=True)
