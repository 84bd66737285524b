"""Reading source files safely, and decoding text files: UTF-8 (with or without BOM) or CP932/Shift_JIS, the usual
encodings of government files.

Safety rules for any source file (text or PDF), checked before a byte of content is read:

* a symbolic link is refused ("is a symbolic link"): a server that ingests uploads must not be made to read a file
  it was not given; the user can name the link's target instead;
* anything but a regular file is refused ("is not a regular file (a directory / a character device / a FIFO …)"):
  ``/dev/zero`` or a named pipe would otherwise be read forever, a directory cannot be read at all;
* a file over the size limit is refused from its size (``st_size``) before it is read, and at most ``limit + 1``
  bytes are ever read (a file that grows while being read, or a /proc-style file that reports size 0, is still
  bounded).

The file is opened with ``O_NOFOLLOW | O_NONBLOCK`` and checked again with ``fstat`` on the open descriptor, so a
path swapped for a link or a FIFO between the check and the open is refused too, and opening a FIFO never blocks.
'.' and '..' in a path are not special: a command-line user may ingest any readable regular file they name.

Decoding (``decode_bytes``), in order:

* UTF-8 (a BOM is dropped); then CP932 — unless the bytes are a mix of the two: a file that is UTF-8 except for
  some lines (a CP932 paragraph pasted into a UTF-8 file, or the reverse) is refused with the first bad line
  named, rather than decoded as CP932 mojibake or with replacement characters: the corpus of record must not
  hold silently damaged text, and re-saving the file as UTF-8 is an easy fix;
* text that decodes as CP932 but holds no kana at all is not Japanese (Latin-1 or random bytes decode as
  CP932 kanji soup) and is refused;
* text with control characters in bulk (binary data) is refused; a few stray control characters are kept here
  and stripped by the line cleaner (``ingest.clean``), so the rest of the document still parses;
* the two private-use characters that mark underlined runs inside the pipeline (U+E000, U+E001) are replaced
  with U+FFFD so that a text file cannot forge "changed" spans; stray BOMs inside the text (U+FEFF), C1 control
  characters (U+0080–U+009F) and bidirectional-override controls (U+202A–U+202E, U+2066–U+2069, which can make
  displayed text read differently from what is stored) are removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from corpus.errors import EmptyInput, IngestError, UnreadableText

MAX_TEXT_BYTES = 20 * 1024 * 1024  # far above any real regulation document; bigger is a mistake or an attack

_MARKS = re.compile("[\ue000\ue001]")
_INVISIBLE = re.compile("[\u0080-\u009f\ufeff\u202a-\u202e\u2066-\u2069]")
_KANA = re.compile("[\u3041-\u309f\u30a1-\u30fa]")  # hiragana, full-width katakana (not half-width: Latin-1 bytes decode to those)
_JAPANESE = re.compile("[\u3041-\u30ff\u3400-\u9fff\uff01-\uff9f]")


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


def check_source(path: Path) -> os.stat_result:
    """The ``lstat`` of ``path`` when it is a regular file (not a link), else an ``IngestError`` naming it."""
    name = str(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise IngestError(name, "no such file", "check the path") from None
    except OSError as exc:
        raise IngestError(name, f"cannot read the file ({_reason(exc)})") from exc
    if stat.S_ISLNK(st.st_mode):
        raise IngestError(name, "is a symbolic link; links are not followed",
                          f"ingest the file it points to ({os.path.realpath(path)}) by its own path")
    if not stat.S_ISREG(st.st_mode):
        raise IngestError(name, f"is not a regular file ({_file_kind(st.st_mode)})", "name a text or PDF file")
    return st


@contextlib.contextmanager
def open_source(path: Path) -> Iterator[tuple[BinaryIO, os.stat_result]]:
    """Open a regular file for reading without following links or blocking; yields (file, fstat)."""
    name = str(path)
    check_source(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IngestError(name, "is a symbolic link; links are not followed") from None
        raise IngestError(name, f"cannot read the file ({_reason(exc)})") from exc
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):  # swapped between the check and the open
            raise IngestError(name, f"is not a regular file ({_file_kind(st.st_mode)})", "name a text or PDF file")
        yield fh, st


def read_bounded(fh: BinaryIO, limit: int) -> bytes:
    """At most ``limit + 1`` bytes from ``fh`` (one more than allowed tells the caller the file is too big)."""
    chunks, total = [], 0
    while total <= limit:
        chunk = fh.read(min(1 << 20, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def too_big(name: str, size: int, limit: int, error: type[IngestError] = UnreadableText) -> IngestError:
    mib = 1024 * 1024
    shown = f"{size // mib} MiB" if size >= mib else f"{size} bytes"
    limit_shown = f"{limit // mib} MiB" if limit >= mib else f"{limit} bytes"
    return error(name, f"the file is {shown}, over the {limit_shown} limit for one document",
                 "split it into its documents")


def decode_bytes(data: bytes, name: str) -> str:
    """Decode trying UTF-8 first (it rejects almost all non-UTF-8 input), then CP932 (see the module docstring)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _refuse_mixed(data, name, exc)
        try:
            text = data.decode("cp932")
        except UnicodeDecodeError:
            raise UnreadableText(name, "not valid UTF-8 or CP932/Shift_JIS text",
                                 "save the file as UTF-8, or ingest the original PDF") from None
        if _looks_binary(text) or not _looks_japanese(text):
            raise UnreadableText(name, "not valid UTF-8 or CP932/Shift_JIS text (as CP932 it is not Japanese: "
                                 "Latin-1 or binary data?)", "save the file as UTF-8, or ingest the original PDF")
        return _sanitise(text)
    if _looks_binary(text):
        raise UnreadableText(name, "not valid UTF-8 or CP932/Shift_JIS text (binary data)",
                             "save the file as UTF-8, or ingest the original PDF")
    return _sanitise(text)


def _refuse_mixed(data: bytes, name: str, exc: UnicodeDecodeError) -> None:
    """Raise when lines with Japanese text are valid UTF-8 while others are not: two encodings in one file."""
    utf8_lines = 0
    for raw in data.split(b"\n"):
        if raw.isascii():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(_JAPANESE.findall(line)) >= 2:  # CP932 text is valid UTF-8 by chance only in a char or two
            utf8_lines += 1
    if utf8_lines:
        line_no = data.count(b"\n", 0, exc.start) + 1
        raise UnreadableText(name, f"mixed encodings: UTF-8 text with bytes that are not UTF-8 (first at line "
                             f"{line_no}, byte {exc.start})",
                             "re-save the whole file as UTF-8 (a paragraph was pasted in another encoding)")


def _looks_binary(text: str) -> bool:
    # Control characters other than tab/newline/form feed in bulk mean this was never text.
    bad = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\t\n\r\f")
    return bad > max(8, len(text[:20000]) // 100)


def _looks_japanese(text: str) -> bool:
    """Japanese prose always has kana (particles); CP932-decoded Latin-1 or noise has kanji and no kana."""
    sample = text[:20000]
    non_ascii = sum(1 for ch in sample if ord(ch) > 127)
    return non_ascii < 10 or bool(_KANA.search(sample))


def _sanitise(text: str) -> str:
    return _INVISIBLE.sub("", _MARKS.sub("\ufffd", text))


def read_text_file(path: Path) -> str:
    """The decoded text of the file at ``path`` (the safety rules and limits of the module docstring apply)."""
    name = str(path)
    with open_source(path) as (fh, st):
        if st.st_size > MAX_TEXT_BYTES:
            raise too_big(name, st.st_size, MAX_TEXT_BYTES)
        data = read_bounded(fh, MAX_TEXT_BYTES)
    return decode_text(data, name)


def decode_text(data: bytes, name: str) -> str:
    """``data`` (a whole text file) decoded and checked: not empty, not over the limit, not only white space."""
    if len(data) > MAX_TEXT_BYTES:
        raise too_big(name, len(data), MAX_TEXT_BYTES)
    if not data:
        raise EmptyInput(name, "the file is empty", "check the export; nothing was ingested")
    text = decode_bytes(data, name)
    if not text.strip():
        raise EmptyInput(name, "the file holds only white space", "check the export; nothing was ingested")
    return text
