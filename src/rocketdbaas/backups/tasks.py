from datetime import timedelta

from django_tasks import task

from rocketdbaas.backups.services import roll_off_backups
from rocketdbaas.core.config import config
from rocketdbaas.core.scheduler import periodic
from rocketdbaas.dbms import DbmsType


@periodic(every=lambda: timedelta(hours=config.BACKUP_ROLLOFF_INTERVAL_HOURS))
@task()
def roll_off_all_backups() -> dict[str, int]:
    """The daily roll-off: every DBMS type, every cluster with a retention policy."""
    return {kind.value: roll_off_backups(kind, dry_run=False).expire_count for kind in DbmsType}
