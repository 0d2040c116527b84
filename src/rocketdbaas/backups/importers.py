"""Readers for what backup tools print about their backups.

- pgBackRest: `pgbackrest info --output=json` (an array of stanzas, each with its backup sets,
  their PostgreSQL database history and repositories).
- Percona Backup for MongoDB: `pbm list --out=json` ({"snapshots": [...], "pitr": {...}}) or
  `pbm status --out=json` (its "backups" section: storage, path and every snapshot, failed
  and running ones too).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rocketdbaas.backups.models import BackupStatus, BackupType

GIB = 1024**3


class ImportFormatError(ValueError):
    """The document is not the tool output it claims to be; `errors` says where."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.errors = errors or []


def _gib(value: Any) -> float | None:
    return round(value / GIB, 6) if isinstance(value, int | float) and value >= 0 else None


def _epoch(value: Any) -> datetime | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _obj(value: Any) -> dict:
    """A JSON object, or an empty one when the tool printed something else there."""
    return value if isinstance(value, dict) else {}


PGBACKREST_TYPES = {
    "full": BackupType.FULL,
    "diff": BackupType.DIFFERENTIAL,
    "incr": BackupType.INCREMENTAL,
}


def parse_pgbackrest(doc: Any, stanza: str | None = None) -> list[dict[str, Any]]:
    """Backups of one stanza, oldest first, as register_backup's fields."""
    if not isinstance(doc, list) or not all(isinstance(s, dict) for s in doc):
        raise ImportFormatError("Expected the JSON array that `pgbackrest info --output=json` prints.")
    names = [s.get("name") for s in doc]
    if stanza is not None:
        doc = [s for s in doc if s.get("name") == stanza]
        if not doc:
            raise ImportFormatError(
                f"No stanza {stanza!r} in the file; it has: {', '.join(map(str, names))}."
            )
    elif len(doc) != 1:
        raise ImportFormatError(
            f"The file has {len(doc)} stanzas ({', '.join(map(str, names))}); choose one with the stanza option."
        )
    (section,) = doc
    # Database ids (one per PostgreSQL major version the stanza has seen) are per repository.
    databases = {
        (db.get("id"), db.get("repo-key", 1)): db for db in section.get("db", []) if isinstance(db, dict)
    }
    out: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, raw in enumerate(section.get("backup", [])):
        label = raw.get("label") if isinstance(raw, dict) else None
        kind = PGBACKREST_TYPES.get(str(raw.get("type"))) if isinstance(raw, dict) else None
        timestamps = _obj(raw.get("timestamp")) if isinstance(raw, dict) else {}
        start = _epoch(timestamps.get("start"))
        if not isinstance(label, str) or not label or kind is None or start is None:
            errors.append(
                {
                    "field": f"backup.{index}",
                    "message": "A backup set needs a label, a type and timestamp.start.",
                }
            )
            continue
        info = _obj(raw.get("info"))
        repo_info = _obj(info.get("repository"))
        database = _obj(raw.get("database"))
        db = databases.get((database.get("id"), database.get("repo-key", 1)), {})
        out.append(
            {
                "label": label,
                "backup_type": kind,
                "status": BackupStatus.SUCCEEDED,
                "started_at": start,
                "stopped_at": _epoch(timestamps.get("stop")),
                "db_size_gigs": _gib(info.get("size")),
                # What this backup itself added to the repository (compressed, deduplicated).
                "bkup_size_gigs": _gib(repo_info.get("delta")),
                "depends_on": raw.get("prior") if isinstance(raw.get("prior"), str) else None,
                "repository": f"repo{database.get('repo-key', 1)}",
                "tool": "pgbackrest",
                "details": {
                    "stanza": section.get("name"),
                    "pgVersion": db.get("version"),
                    "systemId": db.get("system-id"),
                    "reference": raw.get("reference") or [],
                    "deltaBytes": info.get("delta"),
                    "repositorySizeBytes": repo_info.get("size"),
                    "archive": raw.get("archive"),
                    "lsn": raw.get("lsn"),
                    "pgbackrestVersion": _obj(raw.get("backrest")).get("version"),
                    # pgBackRest found page checksum errors; the backup still restores.
                    "pageChecksumError": bool(raw.get("error")),
                    "annotation": raw.get("annotation"),
                },
            }
        )
    if errors:
        raise ImportFormatError("Some pgBackRest backup sets cannot be read.", errors)
    return sorted(out, key=lambda b: b["started_at"])


PBM_STATUS = {
    "done": BackupStatus.SUCCEEDED,
    "error": BackupStatus.FAILED,
    "cancelled": BackupStatus.FAILED,
    "partlyDone": BackupStatus.FAILED,
}


def _pbm_type(snapshot: dict) -> str | None:
    kind = snapshot.get("type", "logical")
    if kind == "incremental":
        # An incremental with no source is the base of an incremental chain: a full copy.
        return BackupType.INCREMENTAL if snapshot.get("src") else BackupType.FULL
    return {"logical": BackupType.LOGICAL, "physical": BackupType.FULL, "external": BackupType.SNAPSHOT}.get(
        kind
    )


def parse_pbm(doc: Any) -> list[dict[str, Any]]:
    """Snapshots from `pbm list --out=json` or `pbm status --out=json`, oldest first."""
    if not isinstance(doc, dict):
        raise ImportFormatError("Expected the JSON object that `pbm list --out=json` or `pbm status` prints.")
    storage: dict[str, Any] = {}
    if isinstance(doc.get("snapshots"), list):
        snapshots = doc["snapshots"]
    elif isinstance(doc.get("backups"), dict) and isinstance(doc["backups"].get("snapshot"), list):
        storage = doc["backups"]
        snapshots = storage["snapshot"]
    else:
        raise ImportFormatError("No snapshot list found (expected 'snapshots' or 'backups.snapshot').")
    out: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for index, snap in enumerate(snapshots):
        name = snap.get("name") if isinstance(snap, dict) else None
        try:
            # PBM names a backup after the moment it started, e.g. 2026-11-20T02:00:21Z.
            start = datetime.fromisoformat(name).astimezone(UTC) if isinstance(name, str) else None
        except ValueError:
            start = None
        kind = _pbm_type(snap) if isinstance(snap, dict) else None
        if start is None or kind is None:
            errors.append(
                {
                    "field": f"snapshots.{index}",
                    "message": "A snapshot needs a timestamp name and a known type.",
                }
            )
            continue
        status = PBM_STATUS.get(snap.get("status", "done"), BackupStatus.RUNNING)
        restore_to = _epoch(snap.get("restoreTo"))
        # restoreTo is the last write the snapshot holds; never earlier than its start.
        stop = max(restore_to, start) if restore_to and status != BackupStatus.RUNNING else None
        out.append(
            {
                "label": name,
                "backup_type": kind,
                "status": status,
                "started_at": start,
                "stopped_at": stop,
                "db_size_gigs": None,
                "bkup_size_gigs": _gib(snap.get("size")),
                "depends_on": snap.get("src")
                if isinstance(snap.get("src"), str) and snap.get("src")
                else None,
                "repository": snap.get("storage")
                if isinstance(snap.get("storage"), str) and snap.get("storage")
                else "main",
                "tool": "pbm",
                "details": {
                    "pbmVersion": snap.get("pbmVersion"),
                    "pbmStatus": snap.get("status"),
                    "pbmType": snap.get("type"),
                    "restoreTo": snap.get("restoreTo"),
                    "error": snap.get("error"),
                    "namespaces": snap.get("nss"),
                    "storageType": storage.get("type"),
                    "storagePath": storage.get("path"),
                },
            }
        )
    if errors:
        raise ImportFormatError("Some PBM snapshots cannot be read.", errors)
    return sorted(out, key=lambda b: b["started_at"])


@dataclass
class ImportResult:
    cluster: str
    tool: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    backup_ids: list[int] = field(default_factory=list)
