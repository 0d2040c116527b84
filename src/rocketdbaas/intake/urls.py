from django.urls import path

from rocketdbaas.intake import views

app_name = "intake"
urlpatterns = [
    path("requests/", views.request_list, name="list"),
    path("requests/new/", views.request_new, name="new"),
    path("requests/<str:reference>/", views.request_detail, name="detail"),
    path("requests/<str:reference>/decide/", views.request_decide, name="decide"),
    path("requests/<str:reference>/comments/", views.request_comment, name="comment"),
]
