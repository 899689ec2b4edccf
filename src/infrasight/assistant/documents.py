"""Text of stored documents for passage search: the pages of a PDF (pypdf) or a UTF-8 text file.

Pure: bytes in, :class:`~infrasight.assistant.retrieval.Document` pages out. A PDF that cannot
be read (damaged, encrypted, scanned without a text layer) gives no pages and is logged, so one
bad upload never stops a search. Text is extracted at search time (no index is stored): a few
PDFs of an asset's work orders and reports take well under a second.
"""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import PdfReadError

from infrasight.assistant.retrieval import Document

__all__ = ["document_pages", "pdf_pages"]

_log = logging.getLogger(__name__)
TEXT_TYPES = frozenset({"text/plain", "text/csv", "text/markdown"})
MAX_PAGES = 200  # pages read of one PDF


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
    if media_type in TEXT_TYPES:
        text = data.decode("utf-8", errors="replace").strip()
        return [Document(source=source, text=text, title=title)] if text else []
    if media_type != "application/pdf":
        return []
    return [
        Document(source=source, text=text, title=title, page=number)
        for number, text in enumerate(pdf_pages(data), start=1)
        if text.strip()
    ]
