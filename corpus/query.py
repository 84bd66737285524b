"""What a search query must be, checked in one place for every caller (CLI, API, web page, evaluation).

The limit is the settings' ``max_query_chars`` (``REGKB_MAX_QUERY_CHARS``); ``MAX_QUERY_CHARS`` is its default,
here so that the settings and a Searcher loaded without settings (tests, evaluation) share one number.
"""

from __future__ import annotations

from corpus.errors import BadQuery

MAX_QUERY_CHARS = 500


def check_query(query: str | None, max_chars: int = MAX_QUERY_CHARS) -> str:
    """The query stripped of surrounding white space; BadQuery when it is empty or blank, or longer than
    ``max_chars`` characters (the web page words its message from "empty" and "characters")."""
    query = (query or "").strip()
    if not query:
        raise BadQuery("the query is empty", "type a question, e.g. 学校保健安全法の医療費援助は対象ですか")
    if len(query) > max_chars:
        raise BadQuery(f"the query is {len(query)} characters, over the limit of {max_chars}",
                       "shorten it to the question itself")
    return query
