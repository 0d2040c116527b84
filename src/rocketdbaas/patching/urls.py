from django.urls import path

from rocketdbaas.patching import views

app_name = "patching"
urlpatterns = [
    path("patching/runs/", views.run_list, name="run-list"),
    path("patching/<str:dbms_type>/runs/", views.run_list, name="run-list"),
    path("patching/runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("patching/runs/<int:run_id>/progress/", views.run_progress, name="run-progress"),
    path("patching/runs/<int:run_id>/steps/<int:step_id>/output/", views.step_output, name="step-output"),
    path("patching/runs/<int:run_id>/<slug:action>/", views.run_control, name="run-control"),
]
