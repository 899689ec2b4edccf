"""Phrases the standards engines share: clauses joined from the data files, and the words
(measures, categories, components, parts) their sentences cite, marked for translation."""

from __future__ import annotations

from collections.abc import Sequence

from infrasight.core.phrases import N_, Phrase, phrase, phrase_list

__all__ = ["WORDS", "joined_clauses"]

#: Words of the standards' files that evidence sentences cite (``{name!t}``): measures,
#: defect categories, NBI components and JTG/T H21 main parts.
WORDS = (
    N_("width_mm"),
    N_("spacing_mm"),
    N_("depth_mm"),
    N_("diameter_mm"),
    N_("convergence_mm"),
    N_("delaminated"),
    N_("patched_sound"),
    N_("patched_unsound"),
    N_("no_section_loss"),
    N_("section_loss"),
    N_("surface_white"),
    N_("leaching_no_rust"),
    N_("heavy_buildup_rust"),
    N_("freckled"),
    N_("pack_rust"),
    N_("damp"),
    N_("dripping"),
    N_("flowing"),
    N_("gushing"),
    N_("deck"),
    N_("superstructure"),
    N_("substructure"),
    N_("main_members"),
    N_("bearings"),
    N_("piers"),
    N_("abutments"),
    N_("foundations"),
)


def joined_clauses(texts: Sequence[str]) -> Phrase | None:
    """The clauses ``texts`` (data-file texts, each translated whole) read one after the other,
    ``"; "`` between them in English (``"；"`` in Chinese), however many; None when there are
    none."""
    if not texts:
        return None
    return phrase_list(*(phrase("{first!c}", first=text) for text in texts), join=";")
