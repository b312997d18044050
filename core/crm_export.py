"""CRM-ready files of a saved plan, in Salesforce's own shapes (see docs/crm.md).

* ``owners_file``: a Data Loader *update* of Account: ``Id`` (the Account id) and ``OwnerId`` (the
  Salesforce User id of the rep who owns the account's new territory), one row per move.
* ``etm_files``: Enterprise Territory Management. The *insert* of ObjectTerritory2Association rows
  (``ObjectId`` = the Account id, ``Territory2Id`` = the new territory, ``AssociationCause`` =
  ``Territory2Manual``), and the associations to delete: one (``ObjectId``, ``Territory2Id``) row per
  move out of an old territory (a move out of a vacant or unassigned book has none).

Ids come from the Salesforce mappings (``core.importing.salesforce``): ``rep.salesforce_id``,
``territory.salesforce_id``, and ``account.salesforce_id`` or, when that is empty, the account's own
CRM id when it already is a Salesforce Account id. A move whose ids are not all known refuses the
whole file (``MissingSalesforceIds`` names the rows); a partial update would leave the CRM half moved.
Every file is spreadsheet-safe (``core.spreadsheet``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased
from sqlmodel import col

from core.models import Account, PlanMove, Rep, Territory
from core.plans import get_plan
from core.salesforce_ids import ACCOUNT, is_salesforce_id
from core.spreadsheet import safe_for_spreadsheet

FORMATS = ("moves", "owners", "etm")
MANUAL = "Territory2Manual"
OWNERS_COLUMNS = ["Id", "OwnerId"]
ETM_COLUMNS = ["ObjectId", "Territory2Id", "AssociationCause"]
ETM_DELETE_COLUMNS = ["ObjectId", "Territory2Id"]
LISTED = 10  # missing ids named one by one; the rest are counted


class MissingSalesforceIds(ValueError):
    """A CRM file that cannot be written: the moves whose Salesforce ids are unknown, in one line."""

    def __init__(self, plan_id: int, file: str, missing: list[str], moves: int) -> None:
        self.missing = tuple(missing)
        listed = "; ".join(missing[:LISTED]) + (
            f"; and {len(missing) - LISTED} more" if len(missing) > LISTED else ""
        )
        super().__init__(
            f"cannot write the {file} file of plan {plan_id}: {len(missing)} of its {moves} moves lack "
            f"a Salesforce id ({listed}); import the Salesforce User and Territory2 exports "
            "(territory import --salesforce-users FILE --salesforce-territories FILE) and export again"
        )


@dataclass(frozen=True)
class EtmFiles:
    """The ETM associations to insert and the ones to delete, for the same moves."""

    associate: pd.DataFrame  # ObjectId, Territory2Id, AssociationCause
    remove: pd.DataFrame  # ObjectId, Territory2Id


def move_ids(engine: Engine, plan_id: int) -> pd.DataFrame:
    """One row per move of the plan with every id a CRM file needs (None where unknown).

    Columns: ``account`` (our id), ``account_sf``, ``old`` / ``new`` (our territory ids, old None
    when the account was unassigned), ``old_sf`` / ``new_sf``, ``owner`` (the new territory's rep)
    and ``owner_sf``. Raises ``PlanError`` for an unknown plan.
    """
    get_plan(engine, plan_id)  # an unknown plan is said as such
    old, new, owner = aliased(Territory), aliased(Territory), aliased(Rep)
    statement = (
        select(
            col(Account.external_id),
            col(Account.salesforce_id),
            col(old.external_id),
            col(old.salesforce_id),
            col(new.external_id),
            col(new.salesforce_id),
            col(owner.external_id),
            col(owner.salesforce_id),
        )
        .select_from(PlanMove)
        .join(Account, col(Account.id) == col(PlanMove.account_id))
        .join(old, col(old.id) == col(PlanMove.from_territory_id), isouter=True)
        .join(new, col(new.id) == col(PlanMove.to_territory_id))
        .join(owner, col(owner.id) == col(new.owner_rep_id), isouter=True)
        .where(col(PlanMove.plan_id) == plan_id)
        .order_by(col(Account.external_id))
    )
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    columns = ["account", "account_sf", "old", "old_sf", "new", "new_sf", "owner", "owner_sf"]
    frame = pd.DataFrame(rows, columns=columns).astype(object)
    frame["account_sf"] = [
        sf if sf else (ext if is_salesforce_id(ext, prefix=ACCOUNT) else None)
        for ext, sf in zip(frame["account"], frame["account_sf"], strict=True)
    ]
    return frame.where(frame.notna(), None)


def owners_file(engine: Engine, plan_id: int) -> pd.DataFrame:
    """The Data Loader update of Account (``Id``, ``OwnerId``); refused when an id is unknown."""
    moves = move_ids(engine, plan_id)
    missing = [_missing_account(m) or _missing_owner(m) for m in moves.to_dict("records")]
    _refuse(plan_id, "owners", [m for m in missing if m], len(moves))
    frame = pd.DataFrame({"Id": moves["account_sf"], "OwnerId": moves["owner_sf"]}, columns=OWNERS_COLUMNS)
    return safe_for_spreadsheet(frame)


def etm_files(engine: Engine, plan_id: int) -> EtmFiles:
    """ObjectTerritory2Association rows to insert and to delete; refused when an id is unknown."""
    moves = move_ids(engine, plan_id)
    missing = [_missing_account(m) or _missing_territory(m) for m in moves.to_dict("records")]
    _refuse(plan_id, "etm", [m for m in missing if m], len(moves))
    associate = pd.DataFrame(
        {"ObjectId": moves["account_sf"], "Territory2Id": moves["new_sf"], "AssociationCause": MANUAL},
        columns=ETM_COLUMNS,
    )
    leaving = moves[moves["old"].notna()]
    remove = pd.DataFrame(
        {"ObjectId": leaving["account_sf"], "Territory2Id": leaving["old_sf"]}, columns=ETM_DELETE_COLUMNS
    )
    return EtmFiles(safe_for_spreadsheet(associate), safe_for_spreadsheet(remove.reset_index(drop=True)))


def _missing_account(move: Mapping[str, Any]) -> str | None:
    return None if move["account_sf"] else f"account {move['account']} has no Salesforce Account id"


def _missing_owner(move: Mapping[str, Any]) -> str | None:
    if move["owner"] is None:
        return f"account {move['account']}: its new territory {move['new']} has no rep"
    if not move["owner_sf"]:
        return f"account {move['account']}: new owner rep {move['owner']} has no Salesforce User id"
    return None


def _missing_territory(move: Mapping[str, Any]) -> str | None:
    if not move["new_sf"]:
        return f"account {move['account']}: new territory {move['new']} has no Salesforce Territory2 id"
    if move["old"] is not None and not move["old_sf"]:
        return f"account {move['account']}: old territory {move['old']} has no Salesforce Territory2 id"
    return None


def _refuse(plan_id: int, file: str, missing: list[str], moves: int) -> None:
    if missing:
        raise MissingSalesforceIds(plan_id, file, missing, moves)
