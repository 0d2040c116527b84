"""Template helpers shared by every app's pages: status badges and sortable table headers."""

from django import template

register = template.Library()

# Colour of a status badge, by status value (compared case-insensitively). Statuses of every
# app are here so that one state looks the same wherever it appears.
_TONES = {
    "ok": {"active", "free", "succeeded", "success", "fulfilled", "up", "healthy", "completed", "primary"},
    "info": {"used", "approved", "running", "replica", "secondary", "planned"},
    "warn": {
        "locked",
        "building",
        "pending",
        "submitted",
        "paused",
        "prechecking",
        "switchover",
        "patching",
        "verifying",
        "interrupted",
        "degraded",
        "unplanned",
    },
    "bad": {"failed", "rejected", "down", "error", "unhealthy", "failover"},
    "muted": {"retired", "decommissioned", "cancelled", "skipped", "expired", "unknown"},
}
_TONE_OF = {value: tone for tone, values in _TONES.items() for value in values}


@register.filter
def badge_tone(value) -> str:
    return _TONE_OF.get(str(value).lower(), "neutral")


@register.inclusion_tag("includes/_sortable_th.html", takes_context=True)
def sortable_th(context, field: str, label: str, css: str = ""):
    """A column header linking to the same page sorted by `field` (again: reversed).

    The view puts the sort it applied in the context as `sort` (e.g. "name" or "-name").
    """
    request = context["request"]
    current = context.get("sort", "")
    direction = "asc" if current == field else "desc" if current == f"-{field}" else ""
    params = request.GET.copy()
    params["sort"] = f"-{field}" if direction == "asc" else field
    params.pop("page", None)
    return {"url": f"?{params.urlencode()}", "label": label, "direction": direction, "css": css}


@register.simple_tag(takes_context=True)
def render_section(context, item):
    """Render a core.sections.SectionData with the page's context plus `section` and `data`."""
    template = context.template.engine.get_template(item.section.template)
    with context.push(section=item.section, data=item.data):
        return template.render(context)
