"""The corpus store: a directory of plain JSON, written atomically.

Layout under ``<data-dir>/corpus``::

    manifest.json          which object holds each document edition (replaced atomically, last)
    objects/<sha256>.json  one document edition: document, clauses and cleaned text (content-addressed)
    originals/<sha256>.pdf the PDF an edition was ingested from, named by its own hash (served at its pages)

Objects are immutable and named by content, so a writer that dies half-way leaves at most a stray temp file:
the manifest, swapped in with ``os.replace`` only after every object it names is on disk, still points at the
last good state.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from corpus.collection import Corpus
from corpus.errors import StoreCorrupt
from corpus.fsutil import atomic_write_bytes, file_lock
from corpus.model import Clause, Document, ParsedDocument

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def dump_json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


class Store:
    """Reads and writes the corpus under ``data_dir/corpus``."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir) / "corpus"
        self.objects = self.root / "objects"
        self.originals = self.root / "originals"
        self.manifest_path = self.root / "manifest.json"

    def _lock(self) -> contextlib.AbstractContextManager[None]:
        # Two ingests at once must not both read the old manifest and drop each other's edition.
        return file_lock(self.root / ".lock")

    def _read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {"schema": SCHEMA_VERSION, "editions": {}}
        try:
            manifest = json.loads(self.manifest_path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise StoreCorrupt(f"corpus manifest {self.manifest_path} is unreadable: {e}",
                               "re-run `regkb ingest` to rebuild the corpus") from e
        if manifest.get("schema") != SCHEMA_VERSION:
            raise StoreCorrupt(f"corpus store schema {manifest.get('schema')} != {SCHEMA_VERSION}",
                               "delete the data directory's corpus/ folder and run `regkb ingest`")
        return manifest

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def state_hash(self) -> str:
        """Hash of what the store holds now: changes whenever any edition is added or replaced."""
        editions = self._read_manifest()["editions"]
        joined = "\n".join(f"{k}={v['object']}" for k, v in sorted(editions.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def manifest_documents(self) -> list[Document]:
        """The stored editions' documents, from the manifest alone (no object is read: cheap at 4k laws)."""
        return [Document.from_json(e["document"]) for e in self._read_manifest()["editions"].values()]

    def load(self) -> Corpus:
        """Every stored document edition."""
        manifest = self._read_manifest()
        parsed = [self._load_object(entry["object"]) for entry in manifest["editions"].values()]
        return Corpus(parsed)

    def _load_object(self, name: str) -> ParsedDocument:
        path = self.objects / name
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as e:
            raise StoreCorrupt(f"corpus object {path} is unreadable: {e}", "re-run `regkb ingest`") from e
        return ParsedDocument(
            document=Document.from_json(data["document"]),
            clauses=tuple(Clause.from_json(c) for c in data["clauses"]),
            text=data["text"],
        )

    def original_path(self, document: Document) -> Path | None:
        """The stored PDF this edition was ingested from, if it was ingested from a PDF and the file is kept."""
        if not document.from_pdf or not document.source_sha256:
            return None
        path = self.originals / f"{document.source_sha256}.pdf"
        return path if path.is_file() else None

    def _put_original(self, sha256: str, source: Path) -> None:
        target = self.originals / f"{sha256}.pdf"
        if target.exists():
            return
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:  # changed since it was parsed: keep no PDF rather than a wrong one
            log.warning("%s changed while it was ingested; its PDF is not kept", source)
            return
        atomic_write_bytes(target, data)

    def put(self, docs: Iterable[ParsedDocument], originals: Mapping[str, Path] | None = None) -> list[str]:
        """Add or replace document editions in one atomic step; returns their keys. ``originals`` maps a source's
        sha256 to its file: those PDFs are kept (before the manifest names them) so that pages can link to them."""
        docs = list(docs)
        with self._lock():
            for sha256, source in (originals or {}).items():
                self._put_original(sha256, source)
            manifest = self._read_manifest()
            for doc in docs:
                payload = dump_json({
                    "document": doc.document.to_json(),
                    "clauses": [c.to_json() for c in doc.clauses],
                    "text": doc.text,
                })
                name = hashlib.sha256(payload).hexdigest() + ".json"
                if not (self.objects / name).exists():
                    atomic_write_bytes(self.objects / name, payload)
                manifest["editions"][doc.document.key] = {"object": name, "document": doc.document.to_json()}
            atomic_write_bytes(self.manifest_path, dump_json(manifest))
            self._collect_garbage(manifest)
        log.info("stored %d document edition(s)", len(docs))
        return [d.document.key for d in docs]

    def _collect_garbage(self, manifest: dict[str, Any]) -> None:
        live = {e["object"] for e in manifest["editions"].values()}
        for path in self.objects.glob("*.json"):
            if path.name not in live:
                path.unlink(missing_ok=True)
        kept = {f"{e['document'].get('source_sha256')}.pdf" for e in manifest["editions"].values()}
        for path in self.originals.glob("*.pdf"):
            if path.name not in kept:
                path.unlink(missing_ok=True)
        # temp files left by killed writers
        for path in [*self.objects.glob(".tmp-*"), *self.root.glob(".tmp-*"), *self.originals.glob(".tmp-*")]:
            path.unlink(missing_ok=True)
