from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "bookstore.shop"
    label = "shop"
    verbose_name = "Bookstore"
