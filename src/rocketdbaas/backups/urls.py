from django.urls import path

from rocketdbaas.backups import views

app_name = "backups"
urlpatterns = [
    path("backups/<str:dbms_type>/", views.backup_list, name="list"),
    path("backups/<str:dbms_type>/rolloff/preview/", views.rolloff_preview, name="rolloff-preview"),
    path("backups/<str:dbms_type>/rolloff/apply/", views.rolloff_apply, name="rolloff-apply"),
    path("backups/<str:dbms_type>/<int:backup_id>/pin/", views.pin, {"pinned": True}, name="pin"),
    path("backups/<str:dbms_type>/<int:backup_id>/unpin/", views.pin, {"pinned": False}, name="unpin"),
]
