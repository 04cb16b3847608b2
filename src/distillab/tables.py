"""Tables of results as text: Markdown for a notebook, aligned plain text for a terminal (every
chapter's tables, and a comparison's live table)."""

from __future__ import annotations

from numbers import Real

ACCURACY_COLUMNS = ("mean accuracy (%)", "min", "max")  # a comparison's columns of accuracy, in %


def column_format(column: str) -> str:
    """The format every table gives a comparison's columns unless told otherwise: accuracies to
    one decimal, gains (every column whose name starts with "gain") signed, to one decimal."""
    if column.startswith("gain"):
        return "+.1f"
    return ".1f" if column in ACCURACY_COLUMNS else ""


def _cell(value, spec: str) -> str:
    """A number in its column's format; text (and True/False) as it is; an empty cell as a dash."""
    if value is None:
        return "–"
    return format(value, spec) if isinstance(value, Real) and not isinstance(value, bool) else str(value)


def _cells(rows: list[dict], formats: dict[str, str] | None) -> tuple[list[str], list[list[str]]]:
    formats = formats or {}
    columns = list(rows[0])
    return columns, [[_cell(row[c], formats.get(c, column_format(c))) for c in columns] for row in rows]


def markdown_table(rows: list[dict], formats: dict[str, str] | None = None) -> str:
    """A list of same-keyed dicts as a Markdown table; `formats` maps a column to a format spec
    (a column it leaves out gets `column_format`'s)."""
    columns, cells = _cells(rows, formats)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def text_table(rows: list[dict], formats: dict[str, str] | None = None) -> str:
    """The same table as plain text, each column as wide as its widest cell."""
    columns, cells = _cells(rows, formats)
    widths = [max(len(text) for text in [column] + [row[i] for row in cells]) for i, column in enumerate(columns)]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in [columns] + cells]
    return "\n".join(lines)
