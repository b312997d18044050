"""Map: territories as areas coloured by a KPI, accounts sized by potential, rep homes, potential density."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import components as ui
from dashboard import data, maps

LAYERS = ("Territories", "Accounts", "Rep homes", "Density")


def filters(dots: pd.DataFrame, kpis: pd.DataFrame) -> maps.MapFilters:
    """Region, state, segment and industry pickers; nothing picked means all."""
    options = {
        "region": kpis["region"],
        "state": dots["state"],
        "segment": dots["segment"],
        "industry": dots["industry"],
    }
    cells = st.columns(len(options))
    chosen = {
        name: tuple(
            cell.multiselect(
                name.capitalize(), sorted(values.dropna().unique()), placeholder="All", key=f"map-{name}"
            )
        )
        for cell, (name, values) in zip(cells, options.items(), strict=True)
    }
    return maps.MapFilters(**chosen)


def caption(picture: maps.MapPicture) -> str:
    if picture.clustered:
        drawn = (
            f"{picture.located:,} located accounts drawn as {picture.drawn:,} clusters (one per territory "
            "and cell; dot area ∝ potential, colour = territory)"
        )
    else:
        drawn = f"{picture.located:,} located accounts drawn (dot area ∝ potential, colour = territory)"
    return (
        f"{picture.territories} territories · {drawn} · {picture.unlocated:,} without coordinates · "
        "hover for the numbers"
    )


status = ui.ready_or_onboarding()
ui.page_header("Map", status, "each territory is the area nearest its accounts, within the states they cover")
ui.require_snapshot(status)

base = data.map_base(status.url, status.version, status.as_of)
kpis = data.snapshot(status.url, status.version, status.snapshot)

metric = (
    st.segmented_control(
        "Colour territories by",
        list(maps.MAP_METRICS),
        default="potential_index",
        format_func=lambda k: maps.MAP_METRICS[k].label,
        key="map-metric",
    )
    or "potential_index"
)
chosen = filters(base.dots, kpis)
layers = st.pills("Layers", LAYERS, default=list(LAYERS[:3]), selection_mode="multi", key="map-layers")

picture = data.map_view(
    status.url, status.version, status.as_of, status.snapshot, metric, chosen, tuple(layers)
)
st.pydeck_chart(
    maps.PrebuiltDeck(picture.json),
    height=620,
    key="territory-map",
    alt=f"Territories coloured by {maps.MAP_METRICS[metric].label}",
)
st.html(maps.legend_html(maps.MAP_METRICS[metric]))
st.caption(caption(picture))
