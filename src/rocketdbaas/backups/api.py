"""/api/{dbmsType}/backups: the backup catalogue, tool imports, retention policies and roll-off."""

from django.http import HttpRequest
from ninja import Query, Status

from rocketdbaas.accounts.roles import require_dba
from rocketdbaas.backups import services
from rocketdbaas.backups.schemas import (
    BackupFilters,
    BackupIn,
    BackupOut,
    BackupPage,
    BackupPatch,
    ImportIn,
    ImportOut,
    PoliciesOut,
    PolicyIn,
    PolicyOut,
    RollOffIn,
    RollOffOut,
)
from rocketdbaas.core.schemas import PROBLEMS, ApiRouter
from rocketdbaas.dbms import resolve_dbms_type

router = ApiRouter()


@router.post(
    "/{dbms_type}/backups",
    response={200: BackupOut, 201: BackupOut, **PROBLEMS},
    summary="Register a backup (idempotent on cluster + repository + label; 200 if already known)",
)
def register_backup(request: HttpRequest, dbms_type: str, payload: BackupIn):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    backup, created = services.register_backup(
        dbms_type=kind,
        new=services.NewBackup(
            cluster=payload.cluster,
            server=payload.server,
            label=payload.label,
            repository=payload.repository,
            tool=payload.tool,
            backup_type=payload.backup_type,
            status=payload.status,
            db_size_gigs=payload.db_size_gigs,
            bkup_size_gigs=payload.bkup_size_gigs,
            started_at=payload.start,
            stopped_at=payload.stop,
            depends_on=payload.depends_on,
            details=payload.details,
        ),
        user=request.user,
    )
    return Status(201 if created else 200, BackupOut.from_backup(backup))


@router.get(
    "/{dbms_type}/backups", response={200: BackupPage, **PROBLEMS}, summary="List backups, newest first"
)
def list_backups(request: HttpRequest, dbms_type: str, filters: Query[BackupFilters]):
    kind = resolve_dbms_type(dbms_type)
    qs = services.filtered_backups(
        kind,
        request.user,
        cluster=filters.cluster,
        repository=filters.repository,
        backup_types=filters.backup_type,
        statuses=filters.status,
        expired=filters.expired,
        pinned=filters.pinned,
        since=filters.since,
        until=filters.until,
    )
    return filters.of(qs, BackupOut.from_backup)


@router.post(
    "/{dbms_type}/backups/import",
    response={200: ImportOut, **PROBLEMS},
    summary="Import `pgbackrest info --output=json` or `pbm list/status --out=json` (all or nothing)",
)
def import_backups(request: HttpRequest, dbms_type: str, payload: ImportIn):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    result = services.import_backups(
        dbms_type=kind,
        cluster=payload.cluster,
        tool=payload.tool,
        document=payload.data,
        stanza=payload.stanza,
        user=request.user,
    )
    return ImportOut.from_result(result)


@router.get(
    "/{dbms_type}/backups/policies",
    response={200: PoliciesOut, **PROBLEMS},
    summary="Retention policies: the type's default and each cluster's own",
)
def get_policies(request: HttpRequest, dbms_type: str):
    default, by_cluster = services.policies_for(resolve_dbms_type(dbms_type))
    return {
        "default": PolicyOut.from_policy(default) if default else None,
        "clusters": sorted(
            (PolicyOut.from_policy(p) for p in by_cluster.values()), key=lambda p: p.cluster or ""
        ),
    }


@router.put(
    "/{dbms_type}/backups/policies",
    response={200: PolicyOut, **PROBLEMS},
    summary="Set a cluster's retention policy, or (no cluster) the default of the type",
)
def put_policy(request: HttpRequest, dbms_type: str, payload: PolicyIn):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    policy = services.set_policy(
        dbms_type=kind,
        cluster=payload.cluster,
        keep_fulls=payload.keep_fulls,
        recovery_window_days=payload.recovery_window_days,
        min_fulls=payload.min_fulls,
        failed_keep_days=payload.failed_keep_days,
        user=request.user,
    )
    return PolicyOut.from_policy(policy)


@router.post(
    "/{dbms_type}/backups/rollOff",
    response={200: RollOffOut, **PROBLEMS},
    summary="Roll off backups the retention policies let go: dryRun lists them and why",
)
def roll_off(request: HttpRequest, dbms_type: str, payload: RollOffIn):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    report = services.roll_off_backups(
        kind,
        dry_run=payload.dry_run,
        cluster=payload.cluster,
        user=request.user,
        max_items=payload.limit,
    )
    return RollOffOut.from_report(report, payload.limit)


@router.get("/{dbms_type}/backups/{backup_id}", response={200: BackupOut, **PROBLEMS}, summary="One backup")
def get_backup(request: HttpRequest, dbms_type: str, backup_id: int):
    return BackupOut.from_backup(services.get_backup(resolve_dbms_type(dbms_type), backup_id, request.user))


@router.patch(
    "/{dbms_type}/backups/{backup_id}",
    response={200: BackupOut, **PROBLEMS},
    summary="Finish a running backup: status, stop, sizes",
)
def patch_backup(request: HttpRequest, dbms_type: str, backup_id: int, payload: BackupPatch):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    changes = payload.model_dump(exclude_unset=True)
    if "stop" in changes:
        changes["stopped_at"] = changes.pop("stop")
    backup = services.update_backup(dbms_type=kind, backup_id=backup_id, changes=changes, user=request.user)
    return BackupOut.from_backup(backup)


@router.post("/{dbms_type}/backups/{backup_id}/pin", response={200: BackupOut, **PROBLEMS}, summary="Pin")
def pin_backup(request: HttpRequest, dbms_type: str, backup_id: int):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    return BackupOut.from_backup(
        services.set_pinned(dbms_type=kind, backup_id=backup_id, pinned=True, user=request.user)
    )


@router.post("/{dbms_type}/backups/{backup_id}/unpin", response={200: BackupOut, **PROBLEMS}, summary="Unpin")
def unpin_backup(request: HttpRequest, dbms_type: str, backup_id: int):
    kind = resolve_dbms_type(dbms_type)
    require_dba(request)
    return BackupOut.from_backup(
        services.set_pinned(dbms_type=kind, backup_id=backup_id, pinned=False, user=request.user)
    )
