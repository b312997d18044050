"""Header aliases: which file headers (ours, Salesforce export names, any case or punctuation)
name which of our columns, per kind of file."""

from __future__ import annotations

import re
from collections.abc import Sequence

from core.book import SPECS

# Accepted header names per kind and column, besides our own, in order of preference. Keys are
# compared lower-case with everything but letters and digits removed and a custom-field "__c"
# suffix dropped, so "BillingPostalCode", "Billing Zip/Postal Code" and "billing_postal_code" match.
# Columns starting with "_" are helpers that derive one of ours (then are dropped).
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "reps": {
        "rep_id": ("id", "userid", "ownerid"),
        "name": ("fullname", "repname"),
        "email": ("emailaddress",),
        "home_city": ("city",),
        "home_lat": ("latitude", "lat"),
        "home_lon": ("longitude", "lon", "lng"),
        "state": ("statecode", "stateprovince"),
        "specialties": ("specialty", "specialization"),
        "capacity_hours": ("capacity",),
        "active": ("isactive",),
        "hired_at": ("hiredate", "startdate"),
        "left_at": ("enddate", "terminationdate"),
        "territory_id": ("territory", "territory2id"),
        "territory_name": ("territory2name",),
        "_first_name": ("firstname",),
        "_last_name": ("lastname",),
    },
    "accounts": {
        "account_id": ("id", "accountid", "sfid"),
        "name": ("accountname",),
        "territory_id": ("territory", "territory2id"),
        "owner_rep_id": ("ownerid", "accountownerid"),
        "industry": (),
        "segment": ("customersegment",),
        "city": ("billingcity", "shippingcity"),
        "state": (
            "billingstatecode",
            "billingstate",
            "billingstateprovince",
            "statecode",
            "shippingstatecode",
            "shippingstate",
        ),
        "postal_code": (
            "billingpostalcode",
            "billingzippostalcode",
            "postalcode",
            "zip",
            "zipcode",
            "shippingpostalcode",
        ),
        "lat": ("billinglatitude", "latitude", "shippinglatitude"),
        "lon": ("billinglongitude", "longitude", "lng", "shippinglongitude"),
        "strategic": ("isstrategic", "strategicaccount"),
        "locked": ("islocked",),
        "owned_since": ("ownersince",),
        "wallet_estimate": ("wallet", "walletsize"),
        "annual_revenue": (),
        "employees": ("numberofemployees",),
    },
    "revenue": {
        "account_id": ("accountid", "account"),
        "month": ("date", "period", "monthstart", "revenuemonth"),
        "amount": ("revenue", "value"),
    },
    "activities": {
        "activity_id": ("id", "taskid", "eventid"),
        "account_id": ("accountid", "whatid"),
        "rep_id": ("ownerid", "assignedtoid"),
        "kind": ("type", "tasksubtype", "eventsubtype", "activitytype", "subtype"),
        "occurred_on": ("activitydate", "date", "activitydatetime"),
        "hours": ("durationhours",),
        "_minutes": ("durationinminutes",),
    },
    "opportunities": {
        "opportunity_id": ("id",),
        "account_id": ("accountid",),
        "rep_id": ("ownerid",),
        "name": ("opportunityname",),
        "amount": (),
        "stage": ("stagename",),
        "status": (),
        "created_on": ("createddate",),
        "close_date": ("closedate",),
        "_is_won": ("iswon", "won"),
        "_is_closed": ("isclosed", "closed"),
    },
    "quotas": {
        "rep_id": ("quotaownerid", "ownerid", "userid"),
        "period_start": ("startdate", "start"),
        "period_end": ("enddate", "end"),
        "amount": ("quotaamount", "quota"),
    },
}
HELPER_KINDS = {
    "_first_name": "str",
    "_last_name": "str",
    "_minutes": "float",
    "_is_won": "bool",
    "_is_closed": "bool",
}


def _header_key(header: str) -> str:
    text = str(header).strip().lower()
    text = text.removesuffix("__c")
    return re.sub(r"[^a-z0-9]", "", text)


def column_kinds(kind: str) -> dict[str, str]:
    """Our columns of ``kind`` (and its helper columns) with their value kind."""
    ours = {c.name: c.kind for c in SPECS[kind]}
    return ours | {name: HELPER_KINDS[name] for name in ALIASES[kind] if name.startswith("_")}


def map_headers(kind: str, headers: Sequence[str]) -> dict[str, str]:
    """``{file header: our column}`` for the headers of a ``kind`` file that we recognise."""
    by_key: dict[str, str] = {}
    for header in headers:
        by_key.setdefault(_header_key(header), header)
    mapping: dict[str, str] = {}
    for target in column_kinds(kind):
        for alias in (_header_key(target), *ALIASES[kind].get(target, ())):
            found = by_key.get(alias)
            if found is not None and found not in mapping:
                mapping[found] = target
                break
    return mapping
