from django.apps import AppConfig


class GuidelinesConfig(AppConfig):
    name = "guidelines"
    verbose_name = "Guidelines"
    default_auto_field = "django.db.models.BigAutoField"
