"""The words of a PDF with their boxes (``pdftotext -bbox``), for tests of the page layout."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import NamedTuple

#: A4 width and the 15 mm side margins of the report's and the profile's PDF (pt)
PAGE_WIDTH, SIDE_MARGIN = 595.276, 15 / 25.4 * 72
_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*)</word>'
)


class Word(NamedTuple):
    page: int  # from 1
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


def pdf_words(pdf: Path | bytes, tmp_path: Path | None = None) -> list[Word]:
    """Every word of ``pdf`` (a file, or its bytes written to ``tmp_path``) with its box in pt
    from the top left corner of its page."""
    if isinstance(pdf, bytes):
        assert tmp_path is not None
        path = tmp_path / "bbox.pdf"
        path.write_bytes(pdf)
        pdf = path
    out = subprocess.run(
        ["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words, page = [], 0
    for line in out.splitlines():
        if "<page " in line:
            page += 1
        elif m := _WORD.search(line):
            x0, y0, x1, y1 = map(float, m.groups()[:4])
            words.append(Word(page, x0, y0, x1, y1, html.unescape(m[5])))
    return words


def outside_text_area(words: list[Word], tolerance: float = 0.5) -> list[Word]:
    """The words reaching into the left or right page margin."""
    left, right = SIDE_MARGIN - tolerance, PAGE_WIDTH - SIDE_MARGIN + tolerance
    return [w for w in words if w.x0 < left or w.x1 > right]


def overlapping(words: list[Word], tolerance: float = 0.5) -> list[tuple[Word, Word]]:
    """Pairs of words of one page whose boxes overlap by more than ``tolerance`` (pt) both
    across and down: text running into other text (a too narrow table column)."""
    pairs = []
    by_page: dict[int, list[Word]] = {}
    for w in words:
        by_page.setdefault(w.page, []).append(w)
    for page_words in by_page.values():
        page_words.sort(key=lambda w: w.x0)
        for i, a in enumerate(page_words):
            for b in page_words[i + 1 :]:
                if b.x0 > a.x1 - tolerance:
                    break
                if min(a.y1, b.y1) - max(a.y0, b.y0) > tolerance:
                    pairs.append((a, b))
    return pairs
