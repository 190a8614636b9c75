"""Sections of free-text radiology reports (MIMIC-CXR style).

A MIMIC-CXR report is plain text in which each section starts with an upper-case header and a
colon at the start of a line (``FINDINGS:``, ``IMPRESSION:``, ``NOTIFICATION:``,
``RECOMMENDATION(S):``...). A section runs until the next header, so a ``NOTIFICATION:`` after
the impression is not part of the impression.

>>> text = "FINDINGS: Clear lungs.\\nIMPRESSION: No acute process.\\nNOTIFICATION: Called Dr. ___."
>>> report_section(text, "impression")
'No acute process.'
>>> report_section(text, "both")
'Clear lungs. No acute process.'
"""

from __future__ import annotations

import re

from ..errors import InvalidInputError

__all__ = ["REPORT_SECTIONS", "report_section", "report_sections"]

#: ``section=`` choices of the report readers.
REPORT_SECTIONS = ("impression", "findings", "both")
# A header: start of a line, upper-case words (with the punctuation MIMIC-CXR headers use, as in
# ``RECOMMENDATION(S):`` or ``WET READ:``), then a colon. Lower-case letters never occur in one,
# which keeps sentences such as "PA and lateral views: ..." out.
_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z /()&,'-]*[A-Z)])[ \t]*:", re.M)


def report_sections(text: str) -> dict[str, str]:
    """Every section of a report: upper-case header -> its text, whitespace collapsed.

    Text before the first header is kept under ``""``. A header that occurs twice keeps both
    texts, joined by a space.
    """
    sections: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    starts = [(m.group(1).strip(), m.start(), m.end()) for m in matches]
    bounds = [("", 0, 0), *starts]
    for i, (name, _, body_start) in enumerate(bounds):
        body_end = bounds[i + 1][1] if i + 1 < len(bounds) else len(text)
        body = " ".join(text[body_start:body_end].split())
        if body or name:
            sections[name] = f"{sections[name]} {body}".strip() if name in sections else body
    return sections


def report_section(text: str, section: str) -> str:
    """The ``FINDINGS`` or ``IMPRESSION`` text of a report, or both joined (``""`` if absent).

    Parameters
    ----------
    text : str
    section : {"impression", "findings", "both"}

    Raises
    ------
    InvalidInputError
        ``section`` is not one of :data:`REPORT_SECTIONS`.
    """
    if section not in REPORT_SECTIONS:
        raise InvalidInputError(f"section must be one of {list(REPORT_SECTIONS)}, got "
                                f"{section!r}")
    sections = report_sections(text)
    if section == "both":
        parts = (sections.get("FINDINGS", ""), sections.get("IMPRESSION", ""))
        return " ".join(p for p in parts if p)
    return sections.get(section.upper(), "")
