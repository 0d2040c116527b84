"""Demo rate cards, so the demo fleet's cost report has prices (only for types without any card)."""

from datetime import date
from decimal import Decimal

from rocketdbaas.dbms import DbmsType
from rocketdbaas.reports import services
from rocketdbaas.reports.models import RateCard
from rocketdbaas.reports.periods import add_months

# Per month: core, GB of RAM, GB of disk, backup GB.
DEMO_RATES = {
    DbmsType.POSTGRESQL: ("18.00", "4.50", "0.12", "0.03"),
    DbmsType.MONGODB: ("20.00", "5.00", "0.15", "0.03"),
}


def load_demo(stdout) -> None:
    today = date.today()
    since = add_months(date(today.year, today.month, 1), -23)
    for dbms_type, (cpu, ram, disk, backup) in DEMO_RATES.items():
        if RateCard.objects.filter(dbms_type=dbms_type).exists():
            continue
        services.create_rate_card(
            dbms_type,
            user=None,
            currency="USD",
            r_cpu=Decimal(cpu),
            r_ram=Decimal(ram),
            r_disk=Decimal(disk),
            r_backup=Decimal(backup),
            effective_from=since,
            effective_to=None,
            notes="Demo rates",
        )
        stdout.write(f"  {dbms_type} rate card from {since:%Y-%m}")
