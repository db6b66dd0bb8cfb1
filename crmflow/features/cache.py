"""The customer table cached on disk, so the jobs of a sweep (and repeated runs) build it once.

An entry is keyed by a digest of what the table depends on: the data config node, the input files
it names (resolved path, size, mtime_ns, and the SHA-256 of files up to 1 MiB), the features config
node (without the cache keys), the source of the data and features code, and the library versions.
It is the folder `<features.cache_dir>/features/<key>/` holding `X.parquet`, `y.parquet` (when the
table has a target) and `table.json` (key, cutoff, report), written into a temporary folder beside
it and moved in place with one `os.replace`: a parallel job sees a whole entry or none.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from crmflow import __version__
from crmflow.config.constraints import Boolean, Text
from crmflow.config.validation import validate
from crmflow.data.base import CRMData
from crmflow.features.table import CustomerTable

__all__ = ["CacheSettings", "CachedFeatures", "TableStore", "cache_key", "cached_features", "split_cache_settings"]

logger = logging.getLogger(__name__)
FORMAT = 1  # bump when the layout of an entry changes
SMALL_FILE = 1 << 20  # input files up to this size are digested by content, larger ones by size and mtime
CODE_PACKAGES = ("crmflow.data", "crmflow.features")  # their source is part of the key
META = "table.json"


@dataclass(frozen=True)
class CacheSettings:
    """`features.cache` (on/off) and `features.cache_dir`; a features node without them is not cached."""

    cache: bool = False
    cache_dir: str = ".crmflow_cache"

    constraints: ClassVar[dict[str, list[Any]]] = {"cache": [Boolean()], "cache_dir": [Text()]}


def split_cache_settings(node: Mapping[str, Any], key: str = "features") -> tuple[dict[str, Any], CacheSettings]:
    """The features node without `cache`/`cache_dir` (what the builder is made from), and those keys, checked."""
    rest = dict(node)
    given = {name: rest.pop(name) for name in ("cache", "cache_dir") if name in rest}
    settings = CacheSettings(**given)
    validate({"cache": settings.cache, "cache_dir": settings.cache_dir}, CacheSettings.constraints, key)
    return rest, settings


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _strings(value)
    elif isinstance(node, str):
        yield node


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, an embedded NUL: not a path
        return False


def input_files(data_node: Mapping[str, Any]) -> list[Path]:
    """The source's input files: every string in the data config node that names an existing file."""
    return sorted({Path(text).resolve() for text in _strings(data_node) if _is_file(text)})


def file_digest(path: Path) -> dict[str, Any]:
    """What identifies a version of an input file: path, size, mtime_ns, and the content of small files."""
    stat = path.stat()
    entry: dict[str, Any] = {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if stat.st_size <= SMALL_FILE:
        entry["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entry


def code_digest(*components: Any) -> str:
    """The source of crmflow's data and features packages and of the components' own modules."""
    files = {p for name in CODE_PACKAGES for p in Path(importlib.import_module(name).__file__).parent.glob("*.py")}
    for component in components:
        module = sys.modules.get(type(component).__module__)
        if getattr(module, "__file__", None):
            files.add(Path(module.__file__))
    digest = hashlib.sha256()
    for file in sorted(files):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import numpy
    import pyarrow

    libraries = {"pandas": pd, "numpy": numpy, "pyarrow": pyarrow}
    return {"crmflow": __version__, **{name: module.__version__ for name, module in libraries.items()}}


def cache_key(data_node: Mapping[str, Any], features_node: Mapping[str, Any], source: Any, builder: Any) -> str:
    """The 64-hex SHA-256 of everything the customer table depends on (the synthetic source has no
    files: its config, seed included, is the key)."""
    material = {
        "format": FORMAT,
        "data": data_node,
        "files": [file_digest(path) for path in input_files(data_node)],
        "features": features_node,
        "code": code_digest(source, builder),
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


class TableStore:
    """Customer tables on disk, one folder per key under `folder/features/`."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def entry(self, key: str) -> Path:
        return self.folder / "features" / key

    def load(self, key: str) -> CustomerTable | None:
        """The stored table, or None when there is none (an unreadable entry is removed)."""
        entry = self.entry(key)
        if not (entry / META).is_file():
            return None
        try:
            meta = json.loads((entry / META).read_text())
            if meta.get("key") != key or meta.get("format") != FORMAT:
                raise ValueError(f"{META} describes key {meta.get('key')!r}, format {meta.get('format')!r}")
            X = pd.read_parquet(entry / "X.parquet")
            y = None
            if meta["has_target"]:
                y = pd.read_parquet(entry / "y.parquet")["y"].rename(meta["target_name"])
        except (OSError, ValueError, TypeError, KeyError) as exc:  # pyarrow's errors subclass these
            logger.warning("features.cache: removing the unreadable entry %s (%s)", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        cutoff = None if meta["cutoff"] is None else pd.Timestamp(meta["cutoff"])
        return CustomerTable(X, y, cutoff, dict(meta["report"]))

    def save(self, key: str, table: CustomerTable) -> bool:
        """Store the table atomically; False (and a warning) when it cannot be stored, e.g. a column
        Parquet cannot hold or a read-only folder: the run goes on uncached."""
        entry = self.entry(key)
        if (entry / META).is_file():
            return True  # a parallel job stored it first
        meta = {
            "key": key,
            "format": FORMAT,
            "crmflow": __version__,
            "cutoff": None if table.cutoff is None else pd.Timestamp(table.cutoff).isoformat(),
            "report": {name: float(value) for name, value in table.report.items()},
            "has_target": table.y is not None,
            "target_name": table.target_name,
        }
        scratch = None
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=entry.parent))
            table.X.to_parquet(scratch / "X.parquet")
            if table.y is not None:
                table.y.to_frame("y").to_parquet(scratch / "y.parquet")
            (scratch / META).write_text(json.dumps(meta, indent=1))
            _move_in_place(scratch, entry)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("features.cache: cannot store the table in %s (%s); the run goes on uncached", entry, exc)
            return False
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        return True


def _move_in_place(scratch: Path, entry: Path) -> None:
    """One rename; when a parallel job stored the same key first, its entry (the same table) stays."""
    try:
        os.replace(scratch, entry)
    except OSError:
        if not (entry / META).is_file():
            raise


class CachedFeatures:
    """A feature builder whose customer table comes from the cache when `key` is stored, else is
    built by `builder` and stored. `key` is computed by the plan, before the data is read."""

    def __init__(self, builder: Any, store: TableStore, key: str) -> None:
        self.builder = builder
        self.store = store
        self.key = key

    def fetch(self, data: CRMData) -> tuple[CustomerTable, bool]:
        """The table and whether it came from the cache."""
        table = self.store.load(self.key)
        if table is not None:
            logger.info("features: customer table from the cache (%s)", self.store.entry(self.key))
            return table, True
        table = self.builder.build(data)
        if self.store.save(self.key, table):
            logger.info("features: customer table stored in the cache (%s)", self.store.entry(self.key))
        return table, False


def cached_features(
    builder: Any, settings: CacheSettings, source: Any, data_node: Mapping[str, Any], features_node: Mapping[str, Any]
) -> Any:
    """`builder` wrapped in a `CachedFeatures` when `features.cache` is on, else `builder` itself."""
    if not settings.cache:
        return builder
    key = cache_key(data_node, features_node, source, builder)
    return CachedFeatures(builder, TableStore(Path(settings.cache_dir).expanduser().absolute()), key)
