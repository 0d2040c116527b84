from django.urls import path

from rocketdbaas.activities import views

app_name = "activities"
urlpatterns = [
    path("activities/<str:dbms_type>/", views.activity_list, name="list"),
    path("activities/<str:dbms_type>/record/", views.record, name="record"),
    path("activities/<str:dbms_type>/<int:activity_id>/ticket/", views.correct, name="correct"),
]
