from django import template
from django.urls import reverse

from orgwarden.console.navigation import SECTIONS

register = template.Library()


@register.simple_tag
def nav_sections():
    return SECTIONS


@register.simple_tag
def page_url(page, org_id: str) -> str:
    if page.url_name:
        return reverse(page.url_name, args=[org_id])
    return reverse("console:not_built", args=[org_id, page.slug])
