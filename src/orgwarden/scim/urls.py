"""``/scim/directory/<directoryId>/…`` — a trailing slash is accepted everywhere (IdPs differ)."""

from django.urls import re_path

from orgwarden.scim import views

app_name = "scim"
D = r"^directory/(?P<directory_id>[^/]+)/"

urlpatterns = [
    re_path(D + r"ServiceProviderConfigs?/?$", views.service_provider_config, name="service_provider_config"),
    re_path(D + r"ResourceTypes/?$", views.resource_types, name="resource_types"),
    re_path(D + r"ResourceTypes/(?P<name>[^/]+)/?$", views.resource_types, name="resource_type"),
    re_path(D + r"Schemas/?$", views.schemas, name="schemas"),
    re_path(D + r"Schemas/(?P<name>[^/]+)/?$", views.schemas, name="schema"),
    re_path(D + r"\.search/?$", views.root_search, name="search"),
    re_path(D + r"Users/?$", views.users, name="users"),
    re_path(D + r"Users/\.search/?$", views.users_search, name="users_search"),
    re_path(D + r"Users/(?P<scim_id>[^/]+)/?$", views.user, name="user"),
    re_path(D + r"Groups/?$", views.groups, name="groups"),
    re_path(D + r"Groups/\.search/?$", views.groups_search, name="groups_search"),
    re_path(D + r"Groups/(?P<scim_id>[^/]+)/?$", views.group, name="group"),
    # Optional endpoints ServiceProviderConfig says are not supported: 501, as RFC 7644 §3.11 asks
    # of /Me (and §3.7 allows for /Bulk), so a client knows to stop instead of checking its URL.
    re_path(D + r"(?P<feature>Me|Bulk)(?:/[\s\S]*)?$", views.not_implemented, name="not_implemented"),
    # [\s\S]: also past a newline (%0A), which "." stops at; Django would answer its HTML 404.
    re_path(r"^(?P<rest>[\s\S]*)$", views.not_found, name="not_found"),
]
