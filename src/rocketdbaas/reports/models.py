"""What the reports need that no other app owns: the cost rate card."""

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from rocketdbaas.dbms import DbmsType


def _rate(label: str) -> models.DecimalField:
    return models.DecimalField(
        label, max_digits=12, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )


class RateCard(models.Model):
    """Monthly prices of one DBMS type's resources, in force from one month to another.

    Rates change at month boundaries, so every month is priced by exactly one card (or none).
    """

    dbms_type = models.CharField(max_length=16, choices=DbmsType.choices)
    currency = models.CharField(
        max_length=3,
        default="USD",
        validators=[RegexValidator(r"^[A-Z]{3}$", "Use a three-letter ISO 4217 code, e.g. USD.")],
    )
    r_cpu = _rate("rate per core-month")
    r_ram = _rate("rate per GB of RAM per month")
    r_disk = _rate("rate per GB of database disk per month")
    r_backup = _rate("rate per backup GB-month")
    effective_from = models.DateField(help_text="First day of the first month priced by this card")
    effective_to = models.DateField(
        null=True,
        blank=True,
        help_text="First day of the first month no longer priced by this card; blank = until further notice",
    )
    notes = models.CharField(max_length=500, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dbms_type", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["dbms_type", "effective_from"], name="ratecard_one_per_start"),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="ratecard_ends_after_start",
            ),
        ]

    def __str__(self):
        until = f" to {self.effective_to:%Y-%m}" if self.effective_to else ""
        return f"{self.get_dbms_type_display()} rates from {self.effective_from:%Y-%m}{until}"

    def check_period(self) -> None:
        errors: dict[str, str] = {}
        if self.effective_from and self.effective_from.day != 1:
            errors["effective_from"] = "Rates change at month boundaries: use the first day of a month."
        if self.effective_to and self.effective_to.day != 1:
            errors["effective_to"] = "Rates change at month boundaries: use the first day of a month."
        elif self.effective_from and self.effective_to and self.effective_to <= self.effective_from:
            errors["effective_to"] = "The end must come after the start."
        if errors:
            raise ValidationError(errors)

    def clean(self):
        self.check_period()
        overlapping = self.overlapping().first()
        if overlapping is not None:
            raise ValidationError(
                {"effective_from": f"This period overlaps another card of the same type: {overlapping}."}
            )

    def overlapping(self) -> models.QuerySet["RateCard"]:
        """Other cards of the same type whose period meets this one's."""
        qs = RateCard.objects.filter(dbms_type=self.dbms_type).exclude(pk=self.pk)
        qs = qs.filter(Q(effective_to__isnull=True) | Q(effective_to__gt=self.effective_from))
        if self.effective_to is not None:
            qs = qs.filter(effective_from__lt=self.effective_to)
        return qs

    def covers(self, month_start: date) -> bool:
        return self.effective_from <= month_start and (
            self.effective_to is None or month_start < self.effective_to
        )
