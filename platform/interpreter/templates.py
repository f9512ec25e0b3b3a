"""Checking `{{ }}` templates at load: Jinja syntax in a sandboxed environment (SPEC 4, notification)."""

from __future__ import annotations

from functools import cache, lru_cache

from jinja2 import Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment


@cache
def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=False)


@lru_cache(maxsize=4096)
def compiled(text: str) -> Template:
    """A compiled template per distinct text: compiling costs milliseconds, rendering microseconds."""
    return environment().from_string(text)


@lru_cache(maxsize=4096)
def template_problem(text: str) -> str | None:
    """Why `text` is not a valid template, or None."""
    try:
        environment().parse(text)
    except TemplateSyntaxError as exc:
        line = f" (line {exc.lineno} of the template)" if text.count("\n") and exc.lineno else ""
        return f"template syntax error: {exc.message}{line}"
    return None
