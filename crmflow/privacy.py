"""The privacy switch `tracking.privacy`: how customer ids (and customer rows) appear in what a run logs.

- `none` (default): ids as they are; a model's input example is the first training rows.
- `hash`: every id becomes a token, the first 16 hex characters of HMAC-SHA256(key, the id as UTF-8 text), keyed
  by the environment variable CRMFLOW_PRIVACY_KEY: the same customer gets the same token in every run with that
  key, and whoever holds the key can join tokens back (compute the token of each known id). Unset: a random key is
  drawn for the run, so its tokens match no other run's.
- `omit`: id columns and the customer-id index are dropped.

With `hash` or `omit` a model's input example is one synthetic row of aggregates (per column the median or the
most frequent value, in the column's dtype, so the signature is unchanged), never a customer's row. The key is
never logged; the mode is (param `tracking.privacy`), and for `hash` whether the key came from the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from crmflow.config.constraints import Options
from crmflow.config.validation import validate

__all__ = ["HASH", "KEY_ENV", "MODES", "NONE", "OMIT", "Privacy", "privacy_mode", "synthetic_row"]

logger = logging.getLogger(__name__)
NONE, HASH, OMIT = "none", "hash", "omit"
MODES = (NONE, HASH, OMIT)
KEY_ENV = "CRMFLOW_PRIVACY_KEY"
TOKEN_LENGTH = 16  # hex characters of the HMAC kept: 64 bits, no collision in any realistic customer base
ID_COLUMNS = ("customer_id",)
PLACEHOLDER_ID = "synthetic"  # an id column's value in a synthetic input example
CONSTRAINTS = {"privacy": [Options(MODES)]}

Ids = TypeVar("Ids", pd.DataFrame, pd.Series, pd.Index)


def privacy_mode(tracking: Mapping[str, Any]) -> str:
    """`tracking.privacy` (default none), checked: ConfigError naming the key and the valid modes otherwise."""
    values = {"privacy": tracking.get("privacy", NONE)}
    validate(values, CONSTRAINTS, "tracking")
    return values["privacy"]


@dataclass(frozen=True)
class Privacy:
    """A run's policy for customer ids in artifacts; `Privacy()` keeps them (mode none). Build it with `for_run`."""

    mode: str = NONE
    key: bytes = field(default=b"", repr=False)
    key_from_env: bool = False

    @classmethod
    def for_run(cls, mode: str, environ: Mapping[str, str] | None = None) -> Privacy:
        """The policy of one run: for `hash` the key from CRMFLOW_PRIVACY_KEY, else a random one (said in one line)."""
        if mode != HASH:
            return cls(mode)
        key = (os.environ if environ is None else environ).get(KEY_ENV)
        if key:
            return cls(mode, key.encode("utf-8"), key_from_env=True)
        logger.warning(
            "tracking.privacy=hash: %s is not set, so a random key was drawn for this run; its customer tokens "
            "will not match other runs' (set %s to join runs)",
            KEY_ENV,
            KEY_ENV,
        )
        return cls(mode, secrets.token_bytes(32))

    @property
    def params(self) -> dict[str, str]:
        """What the run logs about its policy: the mode and, for `hash`, whether the key came from the environment."""
        shown = {"tracking.privacy": self.mode}
        if self.mode == HASH:
            shown["tracking.privacy_key_from_env"] = str(self.key_from_env).lower()
        return shown

    def token(self, value: Any) -> str:
        """The token of one customer id: the first 16 hex characters of HMAC-SHA256(key, str(id))."""
        return hmac.new(self.key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_LENGTH]

    def ids(self, data: Ids) -> Ids:
        """`data` with its customer ids hashed (hash), dropped (omit) or unchanged (none).

        Ids are an Index given itself, or the index of a Series or DataFrame (unless it is a positional
        RangeIndex, which holds no ids) and a DataFrame's `customer_id` column. Dropped, an index becomes a
        RangeIndex.
        """
        if self.mode == NONE:
            return data
        if isinstance(data, pd.Index):
            return self._index(data)
        if isinstance(data, pd.DataFrame):
            present = [c for c in ID_COLUMNS if c in data.columns]
            if self.mode == OMIT:
                data = data.drop(columns=present)
            else:
                data = data.assign(**{c: data[c].map(self.token) for c in present})
        if not isinstance(data.index, pd.RangeIndex):
            data = data.set_axis(self._index(data.index), axis=0)
        return data

    def _index(self, index: pd.Index) -> pd.Index:
        if self.mode == OMIT:
            return pd.RangeIndex(len(index))
        return pd.Index([self.token(v) for v in index], name=index.name, dtype=object)

    def to_csv(self, data: pd.DataFrame | pd.Series, path: Path) -> Path:
        """Write a customer table (ids in the index) as CSV under this policy: with `omit`, no id column at all."""
        self.ids(data).to_csv(path, index=self.mode != OMIT)
        return path

    def example(self, X: pd.DataFrame, n: int = 5) -> pd.DataFrame:
        """A model's input example: the first `n` rows of `X` with mode none, else `synthetic_row(X)`."""
        return X.head(n) if self.mode == NONE else synthetic_row(X)


def synthetic_row(X: pd.DataFrame) -> pd.DataFrame:
    """One row that is no customer's: per column the median (numbers, dates, durations) or the most frequent value
    (text, categories, booleans), in the column's dtype, so a signature inferred from it matches the real rows'."""
    row = {
        name: pd.Series([PLACEHOLDER_ID if name in ID_COLUMNS else _typical(column)], dtype=column.dtype)
        for name, column in X.items()
    }
    return pd.DataFrame(row, columns=X.columns)


def _typical(column: pd.Series) -> Any:
    present = column.dropna()
    if present.empty:
        return None
    if pd.api.types.is_bool_dtype(column) or not (
        pd.api.types.is_numeric_dtype(column)
        or pd.api.types.is_datetime64_any_dtype(column)
        or pd.api.types.is_timedelta64_dtype(column)
    ):
        return present.mode().iloc[0]
    median = present.median()
    return round(median) if pd.api.types.is_integer_dtype(column) else median
