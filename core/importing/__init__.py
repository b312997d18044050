"""Validated CRM import: CSV exports (or a sample ``Book``) -> checks -> one all-or-nothing write.

Three stages, each usable alone:

* ``read_csv_file(path, kind)`` reads one export (UTF-8 with or without BOM; comma, semicolon or
  tab separated), maps its headers onto our column names (``core.book.SPECS``; Salesforce export
  names are accepted too, case-insensitively) and parses types, reporting every bad cell.
* ``validate_book(files, existing=...)`` reads all files and checks them together and against the
  ids already in the database. Every problem is collected; none stops the others.
* ``store_book(session, book)`` upserts a valid book in the caller's transaction.

``import_files`` and ``import_book`` chain the three inside one transaction and record the run
with ``core.jobruns.record_job`` (as every job does), so a refused import shows in the job
history while the data stays untouched.

Row numbers are what a spreadsheet shows: the header is row 1, the first data row is row 2. A
``Book`` (no file) is numbered as if each frame were written out as CSV. Checks are vectorised; one
check lists at most ``MAX_ROWS_PER_CHECK`` rows of a file and then counts the rest in one problem.

The modules, in the order an import runs through them:

* ``headers``: header aliases per kind of file; ``reading``: one CSV file to a frame;
  ``parsing``: cell values by column kind; ``completion``: what a file implies (coordinates from
  postal codes, status from stage, ...); ``problems``: ``Problem`` and the refusal.
* ``checks``: checks across rows and files; ``validation``: read and check everything.
* ``bulk``: bulk writes (``upsert``); ``store`` with ``store_reps``, ``store_accounts``, ``store_sales``:
  one table family each; ``run``: the import job.
* ``salesforce``: a Salesforce User or Territory2 export mapping reps and territories to Salesforce
  ids (for the CRM-ready plan files), checked and refused the same way.

Choices where the issue is silent:

* Upserts: see ``core.importing.store`` (a file is the truth for the columns it has).
* Territories are created from the reps file only; an account's ``territory_id`` must name one of
  those or one already stored (a typo is a problem, not a new vacant territory).
* An account whose owner rep owns no territory (e.g. an inactive owner) is stored unassigned.
* Dates: ISO (with or without a time), ``m/d/Y``, ``d.m.Y``, ``Y/m/d`` and ``Y-m`` are read;
  "future" means after ``today`` (default: the clock; an ``import_book`` sample: its ``as_of``).
"""

from core.importing.bulk import CHUNK_ROWS, upsert
from core.importing.checks import (
    CHECKS,
    CheckInput,
    ExistingIds,
    check_codes,
    check_coordinates,
    check_dates,
    check_duplicates,
    check_non_negative,
    check_placement,
    check_references,
    check_territory_owners,
    load_existing_ids,
)
from core.importing.completion import COMPLETERS
from core.importing.headers import ALIASES, column_kinds, map_headers
from core.importing.parsing import PARSERS, prepare_frame
from core.importing.problems import MAX_ROWS_PER_CHECK, ImportValidationError, Problem
from core.importing.reading import read_csv_file
from core.importing.run import ImportResult, import_book, import_files
from core.importing.store import StoreReport, store_book
from core.importing.validation import KINDS, validate_book, validate_frames

__all__ = [
    "ALIASES",
    "CHECKS",
    "CHUNK_ROWS",
    "COMPLETERS",
    "KINDS",
    "MAX_ROWS_PER_CHECK",
    "PARSERS",
    "CheckInput",
    "ExistingIds",
    "ImportResult",
    "ImportValidationError",
    "Problem",
    "StoreReport",
    "check_codes",
    "check_coordinates",
    "check_dates",
    "check_duplicates",
    "check_non_negative",
    "check_placement",
    "check_references",
    "check_territory_owners",
    "column_kinds",
    "import_book",
    "import_files",
    "load_existing_ids",
    "map_headers",
    "prepare_frame",
    "read_csv_file",
    "store_book",
    "upsert",
    "validate_book",
    "validate_frames",
]
