"""The app's URLs and one page that fails: the 500 page's test needs an unexpected error."""

from django.urls import path

from clinic.urls import handler500, urlpatterns


def failing_page(request):
    raise RuntimeError("an error no view expects")


urlpatterns = [path("fails/", failing_page), *urlpatterns]
__all__ = ["handler500", "urlpatterns"]
