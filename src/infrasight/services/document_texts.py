"""The stored text of documents for the assistant's search: extracted once, not at each search.

A document's text (a PDF's pages, a text file) is extracted when it is uploaded or rendered
(:func:`index_document`, in the caller's transaction) or, for documents stored before, on the
first search that reads it (:func:`document_texts`, in a transaction of its own), and kept by the
blob's SHA-256. A changed document is a new blob and gets its own text; a text extracted by an
older extractor (``EXTRACTOR``) is extracted again.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infrasight.assistant.documents import EXTRACTOR, SEARCHED_TYPES, extract_pages
from infrasight.storage.blobs import BlobStore
from infrasight.storage.db import Database
from infrasight.storage.models import DocumentText

__all__ = ["document_texts", "index_document"]

_log = logging.getLogger(__name__)


def _store(session: Session, sha256: str, media_type: str, pages: list[str]) -> None:
    row = session.get(DocumentText, sha256)
    if row is None:
        row = DocumentText(sha256=sha256, media_type=media_type, extractor=EXTRACTOR)
        session.add(row)
    row.media_type, row.extractor, row.text = media_type, EXTRACTOR, {"pages": pages}


def index_document(session: Session, sha256: str, data: bytes, media_type: str) -> list[str]:
    """Extract ``data``'s text and store it under ``sha256`` (searched types only; a stored
    text of the current extractor is kept). Returns the page texts."""
    if media_type not in SEARCHED_TYPES:
        return []
    row = session.get(DocumentText, sha256)
    if row is not None and row.extractor == EXTRACTOR:
        return list(row.text.get("pages", []))
    pages = extract_pages(data, media_type)
    _store(session, sha256, media_type, pages)
    session.flush()
    return pages


def document_texts(database: Database, blobs: BlobStore, sha256: str, media_type: str) -> list[str]:
    """The page texts of the stored blob ``sha256``: the stored text, or extracted from the blob
    and stored now (first search of a document stored before the index)."""
    if media_type not in SEARCHED_TYPES:
        return []
    with database.session() as session:
        row = session.get(DocumentText, sha256)
        if row is not None and row.extractor == EXTRACTOR:
            return list(row.text.get("pages", []))
    pages = extract_pages(blobs.get(sha256), media_type)
    try:
        with database.transaction() as session:
            _store(session, sha256, media_type, pages)
    except IntegrityError:  # another process stored it meanwhile: the same text
        _log.info("document text %s stored concurrently", sha256[:12])
    return pages
