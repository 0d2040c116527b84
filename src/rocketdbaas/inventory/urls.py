from django.urls import path

from rocketdbaas.inventory import views

app_name = "inventory"
urlpatterns = [
    path("clusters/<str:dbms_type>/", views.cluster_list, name="cluster-list"),
    path("clusters/<str:dbms_type>/<str:name>/", views.cluster_detail, name="cluster-detail"),
    path("servers/<str:dbms_type>/", views.server_list, name="server-list"),
    path("pool/<str:dbms_type>/", views.pool, name="pool"),
    path("pool/<str:dbms_type>/pull/", views.pool_pull, name="pool-pull"),
    path("pool/<str:dbms_type>/<str:name>/status/", views.pool_set_status, name="pool-status"),
]
