app_name = "patching"
urlpatterns: list = []
