"""Classification, direction, address and wording rules of the extraction dataset (validator rules).

Each rule has an id that prefixes its message (C = classification, D = direction, U = addresses,
W = wording) and yields
``(file, row, column, message)`` tuples for the rows that break it; ``validate`` turns them into
``file:row:column: message`` lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Rows = list[dict[str, str]]
Found = tuple[str, int, str, str]

ORDER = "ABCD"
MEASURED = ("validated_alliance_scale", "other_alliance_measure", "single_item_rating")
# Which arms each arm-relevance category allows (D, adjacent evidence, allows every arm).
ARMS_OF = {
    "A": ("medication", "placebo", "medication_and_placebo", "observational"),
    "B": ("pooled_with_psychotherapy",),
    "C": ("psychotherapy_with_medication", "combined_treatment"),
}
CORE_DIAGNOSES = ("depression", "anxiety", "ptsd")
STATED = ("printed_statistic", "stated_in_words")
SIGNLESS_TYPES = ("significance_only", "qualitative", "p_value", "R2", "F", "variance_component")
# Copies that are not the publisher's, PubMed's or PMC's: kept only as secondary addresses.
MIRROR_PATTERNS = (
    r"scribd\.com",
    r"vdocuments\.",
    r"docksci\.com",
    r"coek\.info",
    r"proxy\.weglot\.com",
    r"^https?://\d{1,3}(\.\d{1,3}){3}(:\d+)?/",
)
# Working-note wording that must not reach the reader (columns shown in the book's tables).
NOTE_WORDS = re.compile(r"literature-notes|bibliography-notes|in the notes|per the notes|data/\w+\.csv", re.I)
READER_COLUMNS = {
    "studies.csv": ("population", "country", "setting", "medication", "arms"),
    "effects.csv": ("outcome_measure", "alliance_measure", "timing", "statistic_reported"),
    "screening.csv": ("citation", "reason"),
    "prisma-checklist.csv": ("note",),
}


def is_mirror(url: str) -> bool:
    """Whether ``url`` is an aggregator, document-sharing or bare-IP copy rather than a primary address."""
    return any(re.search(p, url.strip(), re.I) for p in MIRROR_PATTERNS)


def _pos(row: dict[str, str]) -> int:
    return int(row.get("_row", "0") or 0)


def classification(effects: Rows, studies: Rows) -> Iterator[Found]:
    """Rule C1–C5: arm relevance follows from the exposure, the arm and the population."""
    diagnosis = {s.get("study_id", ""): s.get("diagnosis", "") for s in studies}
    for row in effects:
        if "exposure" not in row or "arm_relevance" not in row:
            return
        pos, rel, exposure, arm = _pos(row), row["arm_relevance"], row["exposure"], row.get("arm", "")
        if rel in "ABC" and rel and exposure not in MEASURED:
            yield (
                "effects.csv",
                pos,
                "arm_relevance",
                f"C1: arm relevance {rel} needs a measured alliance, but exposure is {exposure!r} "
                "(related constructs, interventions on the relationship and rows without a relationship "
                "measure are D)",
            )
        if arm == "pooled_with_psychotherapy" and rel in ("A", "C"):
            yield (
                "effects.csv",
                pos,
                "arm_relevance",
                f"C2: an association pooled across psychotherapy and medication arms is B (or D), not {rel}",
            )
        allowed = ARMS_OF.get(rel)
        if allowed and arm not in allowed and not (arm == "pooled_with_psychotherapy" and rel in ("A", "C")):
            yield (
                "effects.csv",
                pos,
                "arm",
                f"C3: arm {arm!r} is not allowed in category {rel} (allowed: {', '.join(allowed)})",
            )
        dx = diagnosis.get(row.get("study_id", ""), "")
        if rel in "ABC" and rel and dx and dx not in CORE_DIAGNOSES:
            yield (
                "effects.csv",
                pos,
                "arm_relevance",
                f"C4: the study's population ({dx}) is adjacent, so its associations are D, not {rel}",
            )
    best: dict[str, str] = {}
    for row in effects:
        rel = row.get("arm_relevance", "")
        if rel in ORDER and rel:
            study = row.get("study_id", "")
            best[study] = min(best.get(study, "D"), rel, key=ORDER.index)
    for study in studies:
        sid, rel = study.get("study_id", ""), study.get("arm_relevance", "")
        if sid in best and rel != best[sid]:
            yield (
                "studies.csv",
                _pos(study),
                "arm_relevance",
                f"C5: {rel!r} differs from the best arm relevance of its associations ({best[sid]!r})",
            )


def direction(effects: Rows) -> Iterator[Found]:
    """Rules D0–D3: direction, its provenance and significance are coded consistently."""
    for row in effects:
        if "direction_source" not in row:
            return
        pos, d, src = _pos(row), row.get("direction", ""), row["direction_source"]
        if d == "null":
            yield (
                "effects.csv",
                pos,
                "direction",
                "D0: 'null' mixed 'no association' with 'direction not reported' (v0.1.0 coding); use "
                "'not_reported' and record the significance in its own column",
            )
            continue
        if (d == "not_reported") != (src == "none"):
            yield (
                "effects.csv",
                pos,
                "direction_source",
                f"D1: direction {d!r} with direction_source {src!r} (use 'none' exactly when the "
                "direction is not_reported)",
            )
        if src == "inferred" and not row.get("direction_reason", "").strip():
            yield ("effects.csv", pos, "direction_reason", "D2: an inferred direction needs its reason")
        if src == "printed_statistic" and row.get("statistic_type") in SIGNLESS_TYPES:
            yield (
                "effects.csv",
                pos,
                "direction_source",
                f"D3: a {row.get('statistic_type')!r} statistic carries no sign; the direction is "
                "stated_in_words or inferred",
            )


def addresses(tables: dict[str, Rows]) -> Iterator[Found]:
    """Rule U1: mirrors and aggregator copies are secondary addresses, never the source link."""
    for name in ("studies", "effects", "screening", "syntheses"):
        for row in tables.get(name, []):
            if "secondary_url" not in row:
                break  # data from before the schema had a place for secondary addresses
            for url in row.get("source_url", "").split(" ; "):
                if url.strip() and is_mirror(url):
                    yield (
                        f"{name}.csv",
                        _pos(row),
                        "source_url",
                        f"U1: {url.strip()!r} is a mirror or aggregator copy; move it to secondary_url and "
                        "give a DOI, PubMed, PMC or publisher address",
                    )


def wording(tables: dict[str, Rows]) -> Iterator[Found]:
    """Rule W1: columns shown to readers carry no working-note names."""
    if not any("secondary_url" in row for row in tables.get("effects", [])[:1]):
        return  # data from before these rules (v0.1.0 schema) are checked by the rules of their time
    for file, columns in READER_COLUMNS.items():
        for row in tables.get(file.removesuffix(".csv"), []):
            for column in columns:
                match = NOTE_WORDS.search(row.get(column, ""))
                if match:
                    yield (
                        file,
                        _pos(row),
                        column,
                        f"W1: reader-facing text names a working note ({match.group(0)!r})",
                    )


def check_rows(tables: dict[str, Rows]) -> Iterator[Found]:
    """All rules of this module over the parsed tables."""
    effects, studies = tables.get("effects", []), tables.get("studies", [])
    yield from classification(effects, studies)
    yield from direction(effects)
    yield from addresses(tables)
    yield from wording(tables)
    if "claims" in tables:
        from livingreview.synthesis.claims import check_rows as check_claims

        yield from check_claims(tables["claims"])
