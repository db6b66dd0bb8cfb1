"""Reading one table file: CSV (any delimiter, with or without a header) or Parquet, by the extension.

Refuses, with one line naming the key, what pandas would read wrongly or not at all: a folder, an empty
file, a repeated header (pandas keeps the first column under that name and renames the others), and a
CSV that reads as one column because its delimiter is not `sep` (the line names the one it has).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from crmflow.errors import DataError

__all__ = ["PARQUET_SUFFIXES", "check_file", "header_names", "plain_numbers", "read_table", "require_unique"]

PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITERS = (",", ";", "\t", "|")  # the delimiters a one-column read is checked for
MANGLED = re.compile(r"^(.*)\.\d+$")  # how pandas renames a repeated header: "amount.1"


def read_table(
    path: str | Path,
    sep: str,
    key: str,
    header: bool = True,
    encoding: str = "utf-8",
    decimal: str = ".",
    thousands: str | None = None,
    *,
    path_key: str | None = None,
    sep_key: str | None = None,
    text_columns: Sequence[str | int] = (),
    date_columns: Sequence[str | int] = (),
) -> pd.DataFrame:
    """Read a CSV (any delimiter) or a Parquet file, chosen by the file extension. Column labels are
    strings; without a header row they are the positions ("0", "1", ...). ``text_columns`` (names, or
    positions without a header) of a CSV are read as text as written, so an id "00042" keeps its zeros.
    ``date_columns`` are read without ``decimal`` and ``thousands`` (the date 01.01.2023 is not the number
    1012023): as text, or as numbers when every value is a plain number (epoch times, 20240131).

    Errors name ``key``'s options (``{key}.encoding``) and the path as ``path_key`` (default ``{key}.path``);
    with ``sep_key``, a CSV that reads as one column (or not at all) gets the delimiter its first line uses.
    """
    path_key = path_key or f"{key}.path"
    file = Path(path)
    check_file(path, path_key)
    parquet = file.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            table = pd.read_parquet(file)
        else:
            table = pd.read_csv(
                file, sep=sep, header=0 if header else None, encoding=encoding, decimal=decimal,
                thousands=thousands, engine="python" if len(sep) > 1 else "c",
                dtype=_as_text(file, sep, encoding, header, [*text_columns, *date_columns]),
            )  # fmt: skip
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except UnicodeDecodeError as exc:
        raise DataError(f"{key}.encoding: '{path}' is not {encoding} text ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = _sep_hint(file, sep, encoding, sep_key) if sep_key and not parquet else ""
        raise DataError(f"{path_key}: cannot read '{path}' (sep={sep!r}): {first_line}{hint}") from exc
    if table.empty:
        raise DataError(f"{path_key}: '{path}' has no rows")
    if sep_key and not parquet and table.shape[1] == 1 and (hint := _sep_hint(file, sep, encoding, sep_key)):
        raise DataError(f"{sep_key}: '{path}' reads as one column with sep={sep!r}{hint}")
    if header:
        names = [str(c) for c in table.columns]
        if not parquet and any(MANGLED.match(n) and MANGLED.match(n)[1] in names for n in names):
            names = header_names(file, sep, encoding)  # pandas renamed a repeated header "amount" to "amount.1"
        require_unique(names, path, path_key)
    table.columns = [str(c) for c in table.columns] if header else [str(i) for i in range(table.shape[1])]
    if not parquet:
        for column in {str(c) for c in date_columns} & set(table.columns) - {str(c) for c in text_columns}:
            table[column] = plain_numbers(table[column])
    return table


def plain_numbers(values: pd.Series) -> pd.Series:
    """Text as numbers when every non-blank value is a plain number (as read_csv infers them without decimal
    and thousands marks), else unchanged; digits with a leading zero ("01022023", a day first) stay text."""
    text = values.astype("string").str.strip()
    blank = text.isna() | text.eq("")
    if blank.all() or pd.to_numeric(text[~blank], errors="coerce").isna().any() or text.str.match(r"0\d").any():
        return values
    numbers = pd.to_numeric(text.mask(blank).to_numpy(dtype=object, na_value=None))  # an ndarray: numpy dtypes
    return pd.Series(numbers, index=values.index, name=values.name)  # int64, or float64 with blanks, as read_csv


def _as_text(file: Path, sep: str, encoding: str, header: bool, columns: Sequence[str | int]) -> dict | None:
    """read_csv's dtype for the ``columns`` the file has (pandas refuses one it lacks; the mapping checks
    report those later, naming their key)."""
    if not columns:
        return None
    try:
        first = header_names(file, sep, encoding)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeDecodeError):
        return None  # read_csv then reports the problem
    present = [c for c in columns if (c in first if header else isinstance(c, int) and 0 <= c < len(first))]
    return dict.fromkeys(present, str) or None


def check_file(path: str | Path, path_key: str) -> None:
    """A DataError naming ``path_key`` unless ``path`` is an existing file (a folder is named as one).
    Messages show ``path`` as given (``Path`` would turn "s3://" into "s3:/", hiding it from redaction)."""
    file = Path(path)
    if file.is_dir():
        inside = sorted(p.name for p in file.iterdir() if p.suffix.lower() in {".csv", ".txt", *PARQUET_SUFFIXES})
        example = f" such as '{file / inside[0]}'" if inside else ""
        raise DataError(f"{path_key}: '{path}' is a directory; set {path_key} to one CSV or Parquet file{example}")
    if not file.is_file():
        raise DataError(f"{path_key}: file '{path}' does not exist")


def header_names(file: Path, sep: str, encoding: str) -> list[str]:
    """The header row of a CSV as written (pandas renames repeated names)."""
    row = pd.read_csv(file, sep=sep, header=None, nrows=1, dtype="str", encoding=encoding, keep_default_na=False,
                      engine="python" if len(sep) > 1 else "c")  # fmt: skip
    return [str(name) for name in row.iloc[0]]


def require_unique(names: list[str], path: str | Path, path_key: str) -> None:
    """A DataError naming every header that is repeated, with its 0-based positions."""
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        positions.setdefault(name, []).append(position)
    repeated = {name: where for name, where in positions.items() if len(where) > 1}
    if repeated:
        shown = ", ".join(f"'{name}' (0-based positions {', '.join(map(str, at))})" for name, at in repeated.items())
        raise DataError(
            f"{path_key}: '{path}' repeats the header {shown}; give each column a unique name in the file "
            "(only the first would be read)"
        )


def _sep_hint(file: Path, sep: str, encoding: str, sep_key: str) -> str:
    """The advice to set `sep_key`, when the first line holds another common delimiter and not `sep`; else ""."""
    with file.open(encoding=encoding, errors="replace", newline="") as lines:
        first = lines.readline().rstrip("\r\n")
    if sep in first:
        return ""
    counts = {candidate: first.count(candidate) for candidate in DELIMITERS if candidate != sep}
    found, count = max(counts.items(), key=lambda item: item[1])
    if not count:
        return ""
    if found == "\t":  # "\t": a tab in YAML, a regex for a tab on the command line
        return f'; its first line has {count} "\\t" and no {sep!r}: set {sep_key}="\\t"'
    # ';' and '|' are shell syntax: the advice is quoted so that it works pasted into bash
    return f'; its first line has {count} {found!r} and no {sep!r}: set "{sep_key}={found!r}"'
