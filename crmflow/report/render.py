"""Jinja2 (it comes with MLflow) renders the report templates shipped in crmflow/report/templates, autoescaped."""

from __future__ import annotations

from functools import cache
from typing import Any

TEMPLATES = "templates"


@cache
def environment() -> Any:
    """The template environment: package templates, autoescape on, undefined names an error."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("crmflow.report", TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, context: dict[str, Any]) -> str:
    """The page `template` (a file name under templates/) with `context`."""
    return environment().get_template(template).render(**context)
