from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter()
router.register("viewset/books", api.BookViewSet, basename="book")

urlpatterns = [
    path("drf/books/", api.BookList.as_view()),
    path("drf/pages/", api.BookPages.as_view()),
    path("drf/review-counts/", api.ReviewCounts.as_view()),
    path("adrf/books/", api.ABookList.as_view()),
    path("adrf/books/<int:pk>/", api.ABookDetail.as_view()),
    path("ninja/", api.api.urls),
    path("", include(router.urls)),
]
