"""Prepared statements on the DB-API cursor of a session's connection, for the hot path.

A device posting a reading a second makes the server look up its token and its channel once
per request. Through SQLAlchemy each such ``SELECT`` cost more CPU (statement caching,
execution context, result objects) than the database's own work; here it is one prepared
statement on the driver's cursor. Columns whose type needs converting (dates) are converted
with the column type's own result processor, so values are what the ORM would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

__all__ = ["fetch_rows", "placeholder", "result_processor"]


def placeholder(session: Session) -> str:
    """The driver's parameter marker: ``%s`` (psycopg) or ``?`` (sqlite3)."""
    return "%s" if session.get_bind().dialect.name == "postgresql" else "?"


def fetch_rows(session: Session, sql: str, parameters: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (markers as :func:`placeholder` gives) on the session's connection,
    in its transaction."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, tuple(parameters))
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def result_processor(session: Session, column: ColumnElement[Any]) -> Callable[[Any], Any]:
    """Converts a raw value of ``column`` as SQLAlchemy would (None stays None)."""
    dialect = session.get_bind().dialect
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    if process is None:
        return lambda value: value
    return lambda value: None if value is None else process(value)
