"""Offline US geography for imports: state codes and postal-code centroids.

Postal codes come from the ``zipcodes`` package (42,000 five-digit codes with a centroid, city and
state; no network). State names map onto the two-letter USPS codes, which also cover DC, the
territories and the military "states" (AA, AE, AP) that CRM billing addresses use.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

STATE_NAMES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "PR": "Puerto Rico",
    "GU": "Guam",
    "VI": "Virgin Islands",
    "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
    "FM": "Federated States of Micronesia",
    "MH": "Marshall Islands",
    "PW": "Palau",
    "AA": "Armed Forces Americas",
    "AE": "Armed Forces Europe",
    "AP": "Armed Forces Pacific",
}
STATE_CODES = frozenset(STATE_NAMES)
_CODE_OF_NAME = {name.upper(): code for code, name in STATE_NAMES.items()}


def normalise_states(states: pd.Series) -> pd.Series:
    """Two-letter codes from codes or full names, any case ("arizona", "Az" -> "AZ").

    Values that are neither stay as given (upper-cased), so a caller can report them.
    """
    upper = states.astype("string").str.strip().str.upper()
    return upper.map(_CODE_OF_NAME).fillna(upper)


def normalise_postal_codes(codes: pd.Series) -> pd.Series:
    """Five-digit ZIP codes: ZIP+4 is cut to five digits, and codes a spreadsheet stripped of their
    leading zeros ("2134") are padded back. Anything else is returned as given."""
    text = codes.astype("string").str.strip()
    five = text.str.extract(r"^(\d{3,5})(?:-\d{4})?$", expand=False)
    return five.str.zfill(5).fillna(text)


@lru_cache(maxsize=1)
def postal_table() -> pd.DataFrame:
    """Every known US postal code with its centroid, city and state, indexed by the 5-digit code."""
    import zipcodes

    frame = pd.DataFrame(zipcodes.list_all(), columns=["zip_code", "lat", "long", "city", "state"])
    frame = frame.rename(columns={"zip_code": "postal_code", "long": "lon"})
    frame["lat"] = pd.to_numeric(frame["lat"], errors="coerce")
    frame["lon"] = pd.to_numeric(frame["lon"], errors="coerce")
    return frame.dropna(subset=["lat", "lon"]).drop_duplicates("postal_code").set_index("postal_code")


def locate_postal_codes(codes: pd.Series) -> pd.DataFrame:
    """lat, lon, city and state for each (normalised) postal code; NaN where the code is unknown."""
    known = postal_table()
    found = known.reindex(codes.astype("string").to_numpy())
    found.index = codes.index
    return found[["lat", "lon", "city", "state"]]
