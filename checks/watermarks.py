"""What earlier runs proved on one target, kept beside the reports history.

One JSON file per target (``reports/.proofs-<target>-<hash>``, named like the last-success
file), holding one entry per check: a NOT VALID CHECK's violator count, a duplicates
check's watermark. An entry is only ever a shortcut: whoever reads it compares its
``identity`` with what the target says now, in the same statement as the conclusion, and
reads the rows again when anything differs. A missing, unreadable, corrupt or foreign file
is an empty store (every check scans), never an error and never a pass.

Entries are recorded while the run gathers (a need that found nothing wrong) and written
once, atomically, when the target's run ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1


def store_file(reports_dir: Path, target: str) -> Path:
    """``reports/.proofs-<target>-<hash>`` (one folder may hold several targets' files)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", target).strip("-.")[:60]
    digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:10]
    return reports_dir / f".proofs-{slug}-{digest}"


def entry_key(*parts: Any) -> str:
    """A check's key in the store: a digest of everything that makes it that check."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()
                          ).hexdigest()[:24]


@dataclass
class Store:
    """One target's remembered proofs (``deep``: none are used, every check reads rows,
    and what the full scans prove is recorded for the next runs)."""

    path: Path | None
    target: str
    deep: bool = False
    deep_every_s: float = 86400.0
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    problem: str | None = None
    """Why the file was not used (missing, corrupt, another target's), for the evidence."""
    _pending: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path | None, target: str, *, deep: bool = False,
             deep_every_s: float = 86400.0) -> Store:
        store = cls(path, target, deep, deep_every_s)
        if path is None:
            store.problem = "no reports folder to keep proofs in"
            return store
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            store.problem = "no earlier run's proofs on this target (reports/ is new)"
            return store
        except (OSError, ValueError) as exc:
            store.problem = f"the earlier runs' proofs could not be read ({exc})"
            return store
        if (not isinstance(raw, dict) or raw.get("format") != FORMAT
                or not isinstance(raw.get("entries"), dict)):
            store.problem = "the earlier runs' proofs file is not one this suite wrote"
        elif raw.get("target") != target:
            store.problem = "the proofs file belongs to another target"
        else:
            store.entries = {k: v for k, v in raw["entries"].items() if isinstance(v, dict)}
        return store

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry an earlier run recorded (never one under ``--deep``)."""
        if self.deep:
            return None
        return self.entries.get(key)

    def record(self, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._pending[key] = entry

    def forget(self, key: str) -> None:
        """What this run found contradicts the entry: the next run reads the rows."""
        with self._lock:
            self._pending[key] = None

    def save(self) -> None:
        """Write the file once, atomically (a failed write keeps the old file: the next run
        re-reads the rows that the new entries would have spared it)."""
        with self._lock:
            if self.path is None or not self._pending:
                return
            entries = dict(self.entries)
            for key, entry in self._pending.items():
                if entry is None:
                    entries.pop(key, None)
                else:
                    entries[key] = entry
            self._pending.clear()
        text = json.dumps({"format": FORMAT, "target": self.target, "entries": entries},
                          indent=1, sort_keys=True)
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"
                                   ".partial")
        try:
            temp.write_text(text, encoding="utf-8")
            os.replace(temp, self.path)
        except OSError:
            temp.unlink(missing_ok=True)
            return
        self.entries = entries
