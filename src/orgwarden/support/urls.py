from django.urls import path

from orgwarden.support import views

app_name = "support"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<str:request_id>/", views.detail, name="detail"),
    path("<str:request_id>/severity", views.severity, name="severity"),
    path("<str:request_id>/resolve", views.resolve, name="resolve"),
    path("<str:request_id>/subscription/paid", views.subscription_paid, name="subscription_paid"),
    path("<str:request_id>/subscription/lapse", views.subscription_lapse, name="subscription_lapse"),
]
