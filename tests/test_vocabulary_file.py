"""The user's own vocabulary file (REGKB_VOCABULARY_FILE): read after the bundled one, a bad file is a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import Settings
from corpus.errors import VocabularyFileError
from index.vocabulary import default_vocabulary


def test_a_users_terms_are_added_after_the_bundled_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mine = tmp_path / "mine.tsv"
    mine.write_text("# our words\n概算払\tさきばらい精算\nオンライン資格確認\tマイナ保険証\n", "utf-8")
    monkeypatch.setenv("REGKB_VOCABULARY_FILE", str(mine))
    vocabulary = Settings().vocabulary()
    assert "概算払" in vocabulary.expansions("さきばらい精算はありますか")  # a new variant of the user's
    assert not default_vocabulary().expansions("さきばらい精算はありますか")
    # a variant the bundled file already maps keeps its mapping
    assert vocabulary.terms == {**vocabulary.terms, **default_vocabulary().terms}


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00broken"])
def test_a_missing_or_undecodable_file_says_what_to_do(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "mine.tsv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(VocabularyFileError) as exc:
        default_vocabulary(path)
    assert str(path) in exc.value.message and exc.value.hint and "REGKB_VOCABULARY_FILE" in exc.value.hint
