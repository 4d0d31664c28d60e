"""Print table renderer (the HTML that WeasyPrint turns into the PDF).

Everything is printed (n and intervals under each value); the header row repeats on every page
and rows never break across pages (see ``static/print.css``). The tables have a fixed layout
(``table-layout: fixed``) with the column widths of :func:`column_widths`, so WeasyPrint does
not measure every cell to find them.
"""

from __future__ import annotations

import re

from kommunaltypen.i18n import t
from kommunaltypen.report.renderers.common import TableView
from kommunaltypen.report.templating import environment

#: width of the text area in pt (A4, 15 mm left and right margin, ``static/print.css``)
TEXT_WIDTH_PT = (210 - 2 * 15) / 25.4 * 72
#: font sizes in pt (``static/print.css`` and ``report.css``, root font size 9.5pt): table
#: text and headers, n and interval under a value (.d), test cells (0.78rem)
_BODY_PT, _DETAIL_PT, _TEST_PT = 8.0, 6.5, 0.78 * 9.5
_NBSP = "\u00a0"
#: line height (``report.css``) in font sizes
_LINE = 1.45
#: horizontal padding of a cell (0.35rem on either side, ``static/print.css``) plus 1pt to spare
_PAD_PT = 2 * 0.35 * 9.5 + 1
#: advance widths (1/2048 em) of the characters of _CHARS in DejaVu Sans, the report's font
#: (DejaVuSans.ttf, DejaVuSans-Bold.ttf 2.37); other characters count 1 em. The fonts that may
#: stand in for it (report.css) are narrower.
_CHARS = (
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
    "YZ!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ "
    "\u00a0\u00b2\u00c4\u00d6\u00dc\u00df\u00e4\u00f6\u00fc\u03b7\u2013\u2019\u2026\u2212"
)
_BOOK = """
    1303 1303 1303 1303 1303 1303 1303 1303 1303 1303 1255 1300 1126 1300 1260 721 1300 1298
    569 569 1186 569 1995 1298 1253 1300 1300 842 1067 803 1298 1212 1675 1212 1212 1075 1401
    1405 1430 1577 1294 1178 1587 1540 604 604 1343 1141 1767 1532 1612 1235 1612 1423 1300
    1251 1499 1401 2025 1403 1251 1403 821 942 1716 1303 1946 1597 563 799 799 1024 1716 651
    739 651 690 690 690 1716 1716 1716 1087 2048 799 690 799 1716 1024 1024 1303 690 1303 1716
    651 651 821 1401 1612 1499 1290 1255 1253 1298 1298 1024 651 2048 1716
"""
_BOLD = """
    1425 1425 1425 1425 1425 1425 1425 1425 1425 1425 1382 1466 1214 1466 1389 891 1466 1458
    702 702 1362 702 2134 1458 1407 1466 1466 1010 1219 979 1458 1335 1892 1321 1335 1192 1585
    1561 1503 1700 1399 1399 1681 1714 762 762 1587 1305 2038 1714 1741 1501 1741 1577 1475
    1397 1663 1585 2259 1579 1483 1485 934 1067 1716 1425 2052 1786 627 936 936 1071 1716 778
    850 778 748 819 819 1716 1716 1716 1188 2048 936 748 936 1716 1024 1024 1458 748 1458 1716
    713 713 897 1585 1741 1663 1473 1382 1407 1458 1458 1024 778 2048 1716
"""
_ADVANCE = {
    bold: dict(zip(_CHARS, map(int, w.split()), strict=True))
    for bold, w in ((False, _BOOK), (True, _BOLD))
}


def _em(text: str, bold: bool = False) -> float:
    """Width of ``text`` in em (DejaVu Sans, regular or bold; no kerning)."""
    advance = _ADVANCE[bold]
    return sum(advance.get(c, 2048) for c in text) / 2048


def _pieces(line: str, hyphens: bool = True) -> list[tuple[str, str]]:
    """(separator, piece) where ``line`` may break: at spaces and, with ``hyphens``, after a
    hyphen inside a word (never at the no-break space)."""
    out = []
    for i, word in enumerate(line.split(" ")):
        parts = re.split(r"(?<=\w-)(?=\w)", word) if hyphens else [word]
        out += [(" " if i and not k else "", part) for k, part in enumerate(parts)]
    return out


#: a cell's text (lines separated by "\n"), font size (pt), bold, breaks after hyphens
_Text = tuple[str, float, bool, bool]


def _narrowest(texts: list[_Text]) -> float:
    """Width (pt, padding included) of the widest piece no line of ``texts`` breaks inside."""
    return _PAD_PT + max(
        (
            _em(piece, bold) * size
            for text, size, bold, hyphens in texts
            for line in text.split("\n")
            for _, piece in _pieces(line, hyphens)
        ),
        default=0.0,
    )


def _widest(texts: list[_Text]) -> float:
    """Width (pt, padding included) of the widest line of ``texts`` (nothing wrapped)."""
    return _PAD_PT + max(
        (_em(line, b) * size for text, size, b, _ in texts for line in text.split("\n")),
        default=0.0,
    )


def _measured(text: _Text) -> list[list[tuple[float, float]]]:
    """Per line of ``text``: (separator, piece) widths in pt where it may break."""
    text, size, bold, hyphens = text
    return [
        [(_em(sep, bold) * size, _em(piece, bold) * size) for sep, piece in _pieces(line, hyphens)]
        for line in text.split("\n")
    ]


def _lines(measured: list[list[tuple[float, float]]], width: float) -> int:
    """Lines of a ``_measured`` text in a column ``width`` wide (padding included), broken
    where the next piece does not fit on the line any more."""
    room, count = width - _PAD_PT, 0
    for pieces in measured:
        count, used = count + 1, pieces[0][1]
        for sep, piece in pieces[1:]:
            if used + sep + piece <= room + 1e-6:  # a line as wide as the column fits
                used += sep + piece
            else:
                count, used = count + 1, piece
    return count


def _shortest_split(
    rows: list[tuple[float, _Text, _Text]],
    room: float,
    label: tuple[float, float],
    test: tuple[float, float],
) -> float:
    """The row labels' width when they share ``room`` with the tests such that the rows are
    shortest together: ``rows`` as (height of the values, label, test), ``label`` and
    ``test`` the (narrowest, widest) width of their column. Tried in steps of 1pt; of the
    equally short splits, the middle one."""
    cells = [
        (floor, _measured(lab), lab[1] * _LINE, _measured(tst), tst[1] * _LINE)
        for floor, lab, tst in rows
    ]
    start, stop = max(label[0], room - test[1]), min(label[1], room - test[0])
    heights = []
    for r in [start + k for k in range(int(stop - start) + 1)] + [stop]:
        height = sum(
            max(floor, _lines(lab, r) * lab_line, _lines(tst, room - r) * tst_line)
            for floor, lab, lab_line, tst, tst_line in cells
        )
        heights.append((round(height, 3), r))
    shortest = [r for h, r in heights if h == min(heights)[0]]
    return shortest[len(shortest) // 2]


def column_widths(
    view: TableView, test_header: str = "Test", width_pt: float = TEXT_WIDTH_PT
) -> list[float]:
    """Widths (percent of the table, summing to 100) of the columns of ``view`` in print: the
    row headers, one per value column, the test column when the table has tests.

    The widths of the display strings are summed from the font's advance widths (headers
    bold, values in the table's size, n and interval smaller, tests smaller too, padding
    added). Values do not wrap: a value column is as wide as its widest value, n or interval
    or the longest word of its header (headers wrap at spaces and hyphens). The row labels
    (wrapped at spaces and hyphens) and the tests (at spaces) share the rest such that the
    rows are shortest together, the height of a row being that of its tallest cell; each gets
    at least its longest word, at most its longest line. Space left when every label and test
    fits on one line widens the value columns towards their headers on one line, and then all
    columns in proportion to their widths; when not even the longest words fit, all columns
    are narrowed in proportion.
    """
    rows = []
    for row in view.rows:
        details = max((bool(c.n) + bool(c.n and c.interval) for c in row.cells), default=0)
        label = (row.label, _BODY_PT, False, True)
        p_value = f", p{_NBSP}{row.p_value.replace(' ', _NBSP)}" if row.p_value else ""
        test = "\n".join(x for x in (row.test + p_value, row.effect) if x) if row.test else ""
        floor = (_BODY_PT + details * _DETAIL_PT) * _LINE
        rows.append((floor, label, (test, _TEST_PT, False, True)))
    labels = [label for _, label, _ in rows]
    lows, highs = [_narrowest(labels)], [_widest(labels)]
    wides = highs[:]  # and the headers on one line
    for j, header in enumerate(view.columns):
        texts = [(header.replace(" ", "\n"), _BODY_PT, True, True)]
        for row in view.rows:
            cell = row.cells[j]
            texts.append((cell.text.replace(" ", _NBSP), _BODY_PT, cell.bold, False))
            if cell.n:
                texts.append((f"n{_NBSP}{cell.n}", _DETAIL_PT, False, False))
                texts.append((cell.interval.replace(" ", _NBSP), _DETAIL_PT, False, False))
        lows.append(_narrowest(texts))
        highs.append(lows[-1])
        wides.append(max(lows[-1], _widest([(header, _BODY_PT, True, True)])))
    tests = [(text, size, bold, False) for _, _, (text, size, bold, _) in rows]
    head = [(test_header, _BODY_PT, True, True)] if view.has_tests else []
    lows.append(_narrowest(tests + head) if view.has_tests else 0.0)
    highs.append(max(lows[-1], _widest(tests)) if view.has_tests else 0.0)
    wides.append(highs[-1])
    if sum(lows) >= width_pt:
        widths = [w * width_pt / sum(lows) for w in lows]
    elif sum(wides) <= width_pt:
        widths = [w * width_pt / sum(wides) for w in wides]
    elif sum(highs) <= width_pt:
        share = (width_pt - sum(highs)) / (sum(wides) - sum(highs))
        widths = [h + (w - h) * share for h, w in zip(highs, wides, strict=True)]
    else:
        room = width_pt - sum(lows[1:-1])
        label = _shortest_split(rows, room, (lows[0], highs[0]), (lows[-1], highs[-1]))
        widths = [label, *lows[1:-1], room - label]
    widths = widths if view.has_tests else widths[:-1]
    tenths = [round(1000 * w / width_pt) for w in widths]
    tenths[tenths.index(max(tenths))] += 1000 - sum(tenths)
    return [x / 10 for x in tenths]


def render_table(view: TableView, lang: str) -> str:
    macro = environment().get_template("table.html.j2").module.table
    widths = column_widths(view, t("report.col_test", lang=lang))
    return str(macro(view, lang=lang, mode="print", widths=widths))
