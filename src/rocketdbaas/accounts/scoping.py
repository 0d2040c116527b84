"""What a user may see: the one rule, applied to every model family.

Admins, DBAs and viewers see everything; an application owner sees only the objects of the
applications they own; anyone else (anonymous, inactive, a role this product does not know)
sees nothing. Each model's QuerySet says how its rows reach their application
(`application_path`) and gets `.visible_to(user)` from `VisibleQuerySet`; nothing else filters
by owner.
"""

from django.db import models
from django.db.models import Q, QuerySet

from rocketdbaas.accounts import roles


def _owned_application_ids(user) -> QuerySet:
    return user.owned_applications.order_by().values("pk")


def visible_condition(user, application_path: str) -> Q:
    """The rule as a condition on rows reaching their application through `application_path`,
    for places a queryset cannot go (an aggregate's filter): Q() when nothing is hidden."""
    if user is None or roles.reads_whole_fleet(user):
        return Q()
    if not roles.is_owner(user):
        # Never true: a row has an application or it has none.
        return Q(**{f"{application_path}__isnull": True}) & Q(**{f"{application_path}__isnull": False})
    return Q(**{f"{application_path}__in" if application_path else "pk__in": _owned_application_ids(user)})


def visible(qs: QuerySet, user, application_path: str, *, own: str | None = None) -> QuerySet:
    """`qs` as far as `user` may see it.

    `application_path` leads from the model to its application ("" for Application itself);
    `own` names a user field that makes a row the user's own (a request they filed) even
    without an owned application. `user` None is the product itself (tasks, commands, emails
    built for a whole application), which sees everything; every request has a user object.
    """
    if user is None or roles.reads_whole_fleet(user):
        return qs
    if not roles.is_owner(user):
        return qs.none()
    condition = visible_condition(user, application_path)
    if own:
        condition |= Q(**{own: user})
    # A subquery on the primary key, so paths through many-valued relations never repeat rows.
    return qs.filter(pk__in=qs.model._base_manager.filter(condition).values("pk"))


def visible_application_ids(user) -> frozenset[int] | None:
    """For code that filters by application id itself (report SQL): None means every application."""
    if user is None or roles.reads_whole_fleet(user):
        return None
    if not roles.is_owner(user):
        return frozenset()
    return frozenset(user.owned_applications.values_list("pk", flat=True))


class VisibleQuerySet(models.QuerySet):
    """Rows reach their application through `application_path`; `own_path` makes a row the user's own."""

    application_path = ""
    own_path: str | None = None

    def visible_to(self, user):
        return visible(self, user, self.application_path, own=self.own_path)
