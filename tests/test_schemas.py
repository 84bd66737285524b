"""Response models stay apart from the internal dataclasses, but no field of a hit or a result is dropped silently:
each one is exposed by the API or listed here as deliberately internal (issue 10)."""

from __future__ import annotations

import dataclasses

from api.schemas import HitOut, SearchResponse
from index.search import Hit, SearchResult

INTERNAL_RESULT_FIELDS = {"hits"}  # rebuilt as HitOut with URLs and references


def test_every_hit_field_is_exposed() -> None:
    missing = {f.name for f in dataclasses.fields(Hit)} - set(HitOut.model_fields)
    assert not missing, f"Hit fields the API drops: {sorted(missing)} — add them to HitOut"


def test_every_result_field_is_exposed() -> None:
    fields = {f.name for f in dataclasses.fields(SearchResult)} - INTERNAL_RESULT_FIELDS
    missing = fields - set(SearchResponse.model_fields)
    assert not missing, f"SearchResult fields the API drops: {sorted(missing)} — add them to SearchResponse"
