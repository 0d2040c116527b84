"""Find the apps that plug into a shared page or command by defining a module of a known name."""

from importlib import import_module
from types import ModuleType

from django.conf import settings


def app_modules(submodule: str, *, skip: str = "") -> list[tuple[str, ModuleType]]:
    """`(app, module)` for each installed RocketDBaaS app that has `<app>.<submodule>`.

    `skip` leaves out one app (the one doing the collecting, which would otherwise find itself).
    An import error inside a module that exists is raised, not mistaken for "no such module".
    """
    found = []
    for app in settings.INSTALLED_APPS:
        if not app.startswith("rocketdbaas.") or app == skip:
            continue
        name = f"{app}.{submodule}"
        try:
            found.append((app, import_module(name)))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return found
