from django.urls import path

from rocketdbaas.contacts import views

app_name = "contacts"
urlpatterns = [
    path("applications/", views.application_list, name="application-list"),
    path("applications/<str:name>/", views.application_detail, name="application-detail"),
    path("applications/<str:name>/sign-up/", views.application_sign_up, name="application-sign-up"),
    path("applications/<str:name>/attach/", views.application_attach, name="application-attach"),
    path("applications/<str:name>/contacts/<int:contact_id>/", views.link_edit, name="link-edit"),
    path("applications/<str:name>/contacts/<int:contact_id>/detach/", views.link_delete, name="link-delete"),
    path("contacts/", views.contact_list, name="contact-list"),
    path("contacts/sign-up/", views.sign_up, name="sign-up"),
    path("contacts/<int:contact_id>/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:contact_id>/expire/", views.contact_expire, name="contact-expire"),
    path("contacts/<int:contact_id>/reactivate/", views.contact_reactivate, name="contact-reactivate"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/<int:notification_id>/", views.notification_detail, name="notification-detail"),
]
