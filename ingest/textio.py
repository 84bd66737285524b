"""Decoding text files: UTF-8 (with or without BOM) or CP932/Shift_JIS, the usual encodings of government files."""

from __future__ import annotations

from pathlib import Path

from corpus.errors import EmptyInput, UnreadableText

MAX_TEXT_BYTES = 20 * 1024 * 1024  # far above any real regulation document; bigger is a mistake or an attack


def decode_bytes(data: bytes, name: str) -> str:
    """Decode trying UTF-8 first (it rejects almost all non-UTF-8 input), then CP932."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for encoding in ("utf-8", "cp932"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _looks_binary(text):
            break
        return text
    raise UnreadableText(name, "not valid UTF-8 or CP932/Shift_JIS text",
                         "save the file as UTF-8, or ingest the original PDF")


def _looks_binary(text: str) -> bool:
    # Control characters other than tab/newline/form feed in bulk mean this was never text.
    bad = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\n\r\f")
    return bad > max(8, len(text[:20000]) // 100)


def read_text_file(path: Path) -> str:
    size = path.stat().st_size
    if size == 0:
        raise EmptyInput(str(path), "the file is empty", "check the export; nothing was ingested")
    if size > MAX_TEXT_BYTES:
        raise UnreadableText(str(path), f"the file is {size // (1024 * 1024)} MiB, over the "
                             f"{MAX_TEXT_BYTES // (1024 * 1024)} MiB limit for one document",
                             "split it into its documents")
    text = decode_bytes(path.read_bytes(), str(path))
    if not text.strip():
        raise EmptyInput(str(path), "the file holds only white space", "check the export; nothing was ingested")
    return text
