"""The one visibility rule: fleet readers see all, owners their applications', anyone else nothing."""

import pytest
from tests.support.fixtures import make_user

from rocketdbaas.accounts.models import Role
from rocketdbaas.accounts.scoping import visible_application_ids
from rocketdbaas.inventory.models import Application, Cluster, PoolStatus, Server
from rocketdbaas.patching.models import PatchRecipe, PatchRun, PatchRunCluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_teams():
    mine, theirs = Application.objects.create(name="mine"), Application.objects.create(name="theirs")
    owner = make_user("oscar-owner", Role.OWNER)
    mine.owners.add(owner)
    run = PatchRun.objects.create(
        dbms_type="postgresql",
        patch_type="DB",
        patch_version="15.10",
        recipe=PatchRecipe.objects.create(name="r", dbms_type="postgresql", patch_type="DB", command="true"),
    )
    for i, app in enumerate((mine, theirs, mine)):
        cluster = Cluster.objects.create(name=f"{app.name}-pg-{i}", dbms_type="postgresql", application=app)
        Server.objects.create(
            name=f"{app.name}-db-{i}",
            dbms_type="postgresql",
            cpu=1,
            ram=1,
            db_gigs=1,
            status=PoolStatus.USED,
            cluster=cluster,
        )
        PatchRunCluster.objects.create(run=run, cluster=cluster, batch=1, position=i)
    Server.objects.create(name="spare-1", dbms_type="postgresql", cpu=1, ram=1, db_gigs=1)
    return owner, mine, run


@pytest.mark.parametrize("role", [Role.ADMIN, Role.DBA, Role.VIEWER])
def test_fleet_readers_see_everything(two_teams, role):
    user = make_user(f"u-{role}", role)
    assert Server.objects.visible_to(user).count() == 4
    assert Application.objects.visible_to(user).count() == 2
    assert visible_application_ids(user) is None


def test_an_owner_sees_only_their_applications_objects(two_teams):
    owner, mine, run = two_teams
    assert sorted(Server.objects.visible_to(owner).values_list("name", flat=True)) == [
        "mine-db-0",
        "mine-db-2",
    ]
    assert list(Application.objects.visible_to(owner)) == [mine]
    assert visible_application_ids(owner) == {mine.pk}
    # A run spanning two of the owner's clusters and a foreign one is listed once.
    assert list(PatchRun.objects.visible_to(owner)) == [run]


@pytest.mark.parametrize("how", ["unknown role", "inactive", "anonymous"])
def test_anyone_else_sees_nothing(two_teams, how):
    from django.contrib.auth.models import AnonymousUser

    _, mine, _ = two_teams
    if how == "anonymous":
        user = AnonymousUser()
    else:
        user = make_user("x", Role.OWNER)
        mine.owners.add(user)
        if how == "unknown role":
            user.role = "auditor"
        else:
            user.is_active = False
        user.save()
    assert not Server.objects.visible_to(user).exists()
    assert not Application.objects.visible_to(user).exists()
    assert not PatchRun.objects.visible_to(user).exists()
    assert visible_application_ids(user) == frozenset()
