from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "rocketdbaas.contacts"
    label = "contacts"

    def ready(self) -> None:
        from rocketdbaas.contacts import events, tasks  # noqa: F401 - registers the periodic sweep
        from rocketdbaas.patching import signals

        signals.run_started.connect(events.on_run_started, dispatch_uid="contacts.run_started")
        signals.step_finished.connect(events.on_step_finished, dispatch_uid="contacts.step_finished")
        signals.run_finished.connect(events.on_run_finished, dispatch_uid="contacts.run_finished")
