"""Evidence items: the links from a conclusion to what supports or contradicts it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from infrasight.core.phrases import Phrase

__all__ = ["Evidence", "EvidenceKind"]


class EvidenceKind(StrEnum):
    """What an evidence item points at."""

    READING_WINDOW = "reading_window"
    ANOMALY_WINDOW = "anomaly_window"
    ALARM = "alarm"
    DEFECT = "defect"
    MODAL_SHIFT = "modal_shift"
    FORECAST = "forecast"
    RATING = "rating"
    ELEMENT = "element"
    VERIFICATION = "verification"  # a work order's repair verified (or not) from the data


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """One linkable piece of evidence.

    Attributes
    ----------
    kind : EvidenceKind
        What ``ref`` points at.
    ref : str
        The source: ``"channel:CRK-1[2026-01-01T00:00Z/2026-02-01T00:00Z]"``,
        ``"alarm:17"``, ``"defect:5#region=10,20,40,8"``, ``"element:P2"``,
        ``"anomaly:CRK-1[...]"``, ``"forecast:CRK-1@red"``. A window's end (or start) ``..`` is
        open: up to the latest reading (from the start of the observed period).
    test : str
        The test or rule that used it (``"temperature_correlation"``, ``"1130 width"``), in
        English; empty when given: ``test_phrase`` in English.
    detail : str
        A sentence a person reads, in English; empty when given: ``phrase`` in English.
    value : float or None
        The number the test used (unit in ``unit``).
    unit : str
        Unit of ``value`` (empty when dimensionless).
    phrase : Phrase or None
        The same sentence as a message key and parameters, rendered in the reader's language
        by the adapters (None: only the English ``detail`` is known).
    test_phrase : Phrase or None
        ``test`` as a message key and parameters when it is composed (``"exposure contains
        freeze_thaw (-1.50)"``); None for a fixed label, which is itself a key of the
        ``evidence`` catalogue (marked with ``N_``).
    """

    kind: EvidenceKind
    ref: str
    test: str = ""
    detail: str = ""
    value: float | None = None
    unit: str = ""
    phrase: Phrase | None = None
    test_phrase: Phrase | None = None

    def __post_init__(self) -> None:
        if not self.test and self.test_phrase is not None:
            object.__setattr__(self, "test", self.test_phrase.english())
        if not self.detail and self.phrase is not None:
            object.__setattr__(self, "detail", self.phrase.english())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "kind": str(self.kind),
            "ref": self.ref,
            "test": self.test,
            "detail": self.detail,
            "value": self.value,
            "unit": self.unit,
            **({"message": self.phrase.as_dict()} if self.phrase is not None else {}),
            **(
                {"test_message": self.test_phrase.as_dict()} if self.test_phrase is not None else {}
            ),
        }
