"""``loads``: orjson's where it is installed (it comes with ranx; about twice as fast as json on clause lines and
bm25s's vocabularies), else the standard library's. One place, so every reader of build files parses alike."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson

    loads: Any = orjson.loads
except ImportError:  # pragma: no cover - orjson comes with ranx
    loads = json.loads
