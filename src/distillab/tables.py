"""Tables of results as text: Markdown for a notebook, aligned plain text for a terminal (every
chapter's tables, and a comparison's live table)."""

from __future__ import annotations


def _cells(rows: list[dict], formats: dict[str, str] | None) -> tuple[list[str], list[list[str]]]:
    formats = formats or {}
    columns = list(rows[0])
    return columns, [[format(row[c], formats.get(c, "")) if row[c] is not None else "–" for c in columns]
                     for row in rows]


def markdown_table(rows: list[dict], formats: dict[str, str] | None = None) -> str:
    """A list of same-keyed dicts as a Markdown table; `formats` maps a column to a format spec."""
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
