"""Text of stored documents for passage search: the pages of a PDF (pypdf) or a UTF-8 text file.

Pure: bytes in, page texts and :class:`~infrasight.assistant.retrieval.Document` pages out. A
PDF that cannot be read (damaged, encrypted, scanned without a text layer) gives no pages and is
logged, so one bad upload never stops a search. The texts are extracted once, at upload or on
the first search, and stored by the blob's SHA-256 (``services/document_texts.py``); search reads
the stored texts.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import pypdf
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from infrasight.assistant.retrieval import Document

__all__ = [
    "EXTRACTOR",
    "SEARCHED_TYPES",
    "document_pages",
    "extract_pages",
    "page_documents",
    "pdf_pages",
]

_log = logging.getLogger(__name__)
TEXT_TYPES = frozenset({"text/plain", "text/csv", "text/markdown"})
MAX_PAGES = 200  # pages read of one PDF
SEARCHED_TYPES = TEXT_TYPES | {"application/pdf"}
#: Names the extraction; a stored text of another extractor is extracted again.
EXTRACTOR = f"pypdf {pypdf.__version__}; {MAX_PAGES} pages"


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page of a PDF (empty strings for pages without a text layer).

    Returns no pages when the file cannot be read; at most ``MAX_PAGES`` pages are read.
    """
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            _log.warning("encrypted PDF skipped for search")
            return []
        return [page.extract_text() or "" for page in reader.pages[:MAX_PAGES]]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        _log.warning("unreadable PDF skipped for search: %s", err)
        return []


def extract_pages(data: bytes, media_type: str) -> list[str]:
    """The texts of a document's pages: a PDF's pages, or one for a text file (none for
    other types, such as photos)."""
    if media_type in TEXT_TYPES:
        return [data.decode("utf-8", errors="replace")]
    if media_type == "application/pdf":
        return pdf_pages(data)
    return []


def page_documents(
    pages: Sequence[str], media_type: str, *, source: str, title: str
) -> list[Document]:
    """One document per non-empty page (PDF: 1-based ``page``; a text file: no page)."""
    paged = media_type == "application/pdf"
    return [
        Document(source=source, text=text.strip(), title=title, page=number if paged else None)
        for number, text in enumerate(pages, start=1)
        if text.strip()
    ]


def document_pages(
    data: bytes,
    media_type: str,
    *,
    source: str,
    title: str,
) -> list[Document]:
    """One document per non-empty page (PDF, 1-based ``page``) or one for a text file.

    Other media types (photos) give none.
    """
    return page_documents(extract_pages(data, media_type), media_type, source=source, title=title)
