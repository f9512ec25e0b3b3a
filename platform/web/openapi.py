"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json; a test checks it against
the routes the application really has)."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
TICKET = {"$ref": "#/components/schemas/Ticket"}
# Keys every object of these kinds carries (SPEC 6 and 10), null when they have no value.
TICKET_KEYS = ("number", "process", "state", "priority", "team", "assignee", "requester", "fields", "sla", "version",
               "created_at", "updated_at", "transitions")
CLOCK_KEYS = ("status", "target_seconds", "elapsed_seconds", "deadline", "breached", "percent", "started_at",
              "stopped_at")
EVENT_KEYS = ("at", "actor", "kind", "transition", "from", "to", "changes", "comment", "definitions_version")


def _responses(ok: int, schema: dict[str, Any] | None, *errors: int, text: bool = False) -> dict[str, Any]:
    content = {"text/plain": {"schema": {"type": "string"}}} if text else {"application/json": {"schema": schema}}
    out: dict[str, Any] = {str(ok): {"description": "OK" if ok == 200 else "Created", "content": content}}
    descriptions = {400: "Malformed request", 401: "Missing or unknown token", 403: "Role missing",
                    404: "Not found (or not visible to the caller)",
                    409: "Not allowed in this state, guard false, or stale version",
                    422: "Field validation failed: details list {field, message}",
                    503: "The database is unreachable or not migrated: try again after Retry-After seconds"}
    for status in errors:
        out[str(status)] = {"description": descriptions[status],
                            "content": {"application/json": {"schema": ERROR}}}
    return out


def _body(properties: dict[str, Any], required: list[str], optional: bool = False) -> dict[str, Any]:
    """A JSON object body, checked against this schema before the view runs (web/bodies.py): `required`
    keys must be given (not null); the others may be left out or null. `optional`: no body at all is fine."""
    schema = {"type": "object", "properties": {k: v if k in required else _or_null(v) for k, v in properties.items()},
              "required": required, "additionalProperties": False}
    return {"required": not optional, "content": {"application/json": {"schema": schema}}}


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    if "enum" in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    return {**schema, "type": [*kinds, "null"]}


TEXT = {"type": "string"}
OBJECT = {"type": "object"}
VERSION = {"type": "integer", "minimum": 1,
           "description": "The ticket's version as last read: another one answers 409 stale_version."}


NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}, "example": "INC0000001"}
AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
LIMIT = {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5}}
_RANKED = {"type": "array", "description": "best first; only values at the pack's min_confidence or above",
           "items": {"type": "object", "required": ["value", "confidence"], "properties": {
               "value": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1},
               "words": {"type": "array", "items": {"type": "string"},
                         "description": "the pieces of the text that weighed most for this value"}}}}
TRIAGE = {"type": "object", "required": ["fields", "team", "similar"], "properties": {
    "fields": {"type": "object", "additionalProperties": _RANKED,
               "description": "per field the process's triage names (SPEC 16); [] without a model or when unsure"},
    "team": _RANKED,
    "similar": {"type": "array", "description": "tickets the caller may see, solved ones first, then by score",
                "items": {"type": "object", "required": ["number", "score", "title"], "properties": {
                    "number": {"type": "string"}, "score": {"type": "number", "minimum": 0, "maximum": 1},
                    "title": {"type": "string"}, "state": {"type": "string"}, "solved": {"type": "boolean"}}}}}}
SUGGESTIONS = {"type": "object", "properties": {
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Suggestion"}}}}

KPI_PARAMETERS: list[dict[str, Any]] = [
    {"name": "from", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Tickets created at or after: an ISO date (00:00 UTC) or instant (UTC without offset)."},
    {"name": "to", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Tickets created before: an instant, or an ISO date whose whole day is included."},
    {"name": "process", "in": "query", "required": False, "schema": {"type": "string"}},
    {"name": "team", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "The team holding the ticket now."},
    {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"], "default": "json"}},
]
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_DURATION = {"type": "object", "properties": {"count": {"type": "integer"},
                                              "mean_seconds": {"type": ["number", "null"]},
                                              "median_seconds": {"type": ["number", "null"]}}}
_RATE = {"type": ["number", "null"]}
KPIS: dict[str, Any] = {"type": "object", "properties": {
    "period": {"type": "object", "properties": {"from": {"type": ["string", "null"], "format": "date-time"},
                                                "to": {"type": ["string", "null"], "format": "date-time"},
                                                "applies_to": {"const": "created_at"}}},
    "process": {"type": ["string", "null"]}, "processes": {"type": "array", "items": {"type": "string"}},
    "team": {"type": ["string", "null"]}, "generated_at": {"type": "string", "format": "date-time"},
    "tickets": _COUNTS, "time_to_acknowledge": _DURATION, "time_to_resolve": _DURATION,
    "sla": {"type": "array", "items": {"type": "object", "properties": {
        "clock": {"type": "string"}, "priority": {"type": "string"}, "met": {"type": "integer"},
        "breached": {"type": "integer"}, "running": {"type": "integer"}, "total": {"type": "integer"},
        "compliance_percent": _RATE}}},
    "backlog": {"type": "object", "properties": {"open": {"type": "integer"}, "by_team": _COUNTS,
                                                 "by_priority": _COUNTS, "by_age": _COUNTS}},
    "reopen": {"type": "object", "properties": {"resolved": {"type": "integer"}, "reopened": {"type": "integer"},
                                                "rate_percent": _RATE}},
    "first_contact_resolution": {"type": "object", "properties": {
        "resolved": {"type": "integer"}, "first_contact": {"type": "integer"}, "rate_percent": _RATE}},
    "satisfaction": {"type": "object", "properties": {"count": {"type": "integer"},
                                                      "average": {"type": ["number", "null"]},
                                                      "distribution": _COUNTS}},
    "channels": _COUNTS}}


def openapi_document() -> dict[str, Any]:
    ticket_ops = {"get": {"summary": "A ticket", "parameters": [NUMBER], "security": AUTH,
                          "responses": _responses(200, TICKET, 401, 404)},
                  "patch": {"summary": "Update fields", "parameters": [NUMBER], "security": AUTH,
                            "requestBody": _body({"fields": OBJECT, "version": VERSION}, ["fields", "version"]),
                            "responses": _responses(200, TICKET, 400, 401, 403, 404, 409, 422)}}
    filters: list[dict[str, Any]] = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in ("process", "state", "priority", "team", "assignee", "requester", "q", "sla", "cursor")]
    filters.append({"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}})
    return {
        "openapi": "3.1.0",
        "info": {"title": "ITSM platform API", "version": "1",
                 "description": "Tickets through processes defined in YAML packs (SPEC 10)."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A token from `itsm token create NAME`."}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message", "details"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object", "properties": {
                        "field": {"type": "string"}, "message": {"type": "string"}}}}}},
                "Clock": {"type": "object", "required": list(CLOCK_KEYS), "properties": {
                    "status": {"enum": ["not_started", "running", "paused", "met", "breached", "cancelled"]},
                    "target_seconds": {"type": ["number", "null"]}, "elapsed_seconds": {"type": "number"},
                    "deadline": {"type": ["string", "null"], "format": "date-time"}, "breached": {"type": "boolean"},
                    "percent": {"type": ["number", "null"]},
                    "started_at": {"type": ["string", "null"], "format": "date-time"},
                    "stopped_at": {"type": ["string", "null"], "format": "date-time"}}},
                "Ticket": {"type": "object", "required": list(TICKET_KEYS),
                           "properties": {
                               "number": {"type": "string"}, "process": {"type": "string"},
                               "state": {"type": "string"}, "priority": {"type": ["string", "null"]},
                               "team": {"type": ["string", "null"]}, "assignee": {"type": ["string", "null"]},
                               "requester": {"type": "string"}, "fields": {"type": "object"},
                               "sla": {"type": "object",
                                       "additionalProperties": {"$ref": "#/components/schemas/Clock"}},
                               "version": {"type": "integer"},
                               "created_at": {"type": "string", "format": "date-time"},
                               "updated_at": {"type": "string", "format": "date-time"},
                               "transitions": {"type": "array", "items": {"type": "string"}}}},
                "Kpis": KPIS,
                "Suggestion": {"type": "object", "required": ["number", "process", "state", "title", "score"],
                               "properties": {
                                   "number": {"type": "string"}, "process": {"type": "string"},
                                   "state": {"type": "string"}, "priority": {"type": ["string", "null"]},
                                   "title": {"type": "string"}, "excerpt": {"type": "string"},
                                   "score": {"type": "number", "description": "higher is more relevant"},
                                   "linked": {"type": "boolean",
                                              "description": "ticket page only: already linked as known error"}}},
                "Link": {"type": "object", "required": ["from", "to", "kind"], "properties": {
                    "from": {"type": "string"}, "to": {"type": "string"},
                    "kind": {"enum": ["known_error", "known_error_of", "related", "parent", "child"]}}},
                "Event": {"type": "object", "required": list(EVENT_KEYS), "properties": {
                    "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
                    "kind": {"type": "string"}, "transition": {"type": ["string", "null"]},
                    "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
                    "changes": {"type": "object"}, "comment": {"type": ["string", "null"]},
                    "data": {"type": "object", "description": "what else the event recorded, by kind"},
                    "definitions_version": {"type": "string"}}},
            },
        },
        "paths": {
            "/api/health": {"get": {"summary": "The database reachable, and the active definitions version",
                                    "responses": _responses(200, {"type": "object"}, 503)}},
            "/api/openapi.json": {"get": {"summary": "This document",
                                          "responses": _responses(200, {"type": "object"})}},
            "/api/pack": {"get": {"summary": "The active pack", "security": AUTH,
                                  "responses": _responses(200, {"type": "object"}, 401)}},
            "/api/processes/{process_id}": {"get": {
                "summary": "States and transitions of a process", "security": AUTH,
                "parameters": [{"name": "process_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": _responses(200, {"type": "object"}, 401, 404)}},
            "/api/processes/{process_id}/diagram": {"get": {
                "summary": "Mermaid stateDiagram-v2", "security": AUTH,
                "parameters": [{"name": "process_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": _responses(200, None, 401, 404, text=True)}},
            "/api/forms/{form_id}/schema": {"get": {
                "summary": "JSON Schema of a form", "security": AUTH,
                "parameters": [{"name": "form_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": _responses(200, {"type": "object"}, 401, 404)}},
            "/api/tickets": {
                "post": {"summary": "Create a ticket", "security": AUTH,
                         "requestBody": _body({"process": TEXT, "fields": OBJECT, "requester": {
                             "type": "string", "description": "agents only: whom the ticket is for"}}, ["process"]),
                         "responses": _responses(201, TICKET, 400, 401, 403, 422)},
                "get": {"summary": "Tickets the caller may see, newest first", "security": AUTH,
                        "parameters": filters,
                        "responses": _responses(200, {"type": "object", "properties": {
                            "items": {"type": "array", "items": TICKET},
                            "next_cursor": {"type": ["string", "null"]}}}, 400, 401)}},
            "/api/tickets/{number}": ticket_ops,
            "/api/tickets/{number}/transitions/{transition}": {"post": {
                "summary": "Fire a transition", "security": AUTH,
                "parameters": [NUMBER, {"name": "transition", "in": "path", "required": True,
                                        "schema": {"type": "string"}}],
                "requestBody": _body({"fields": OBJECT, "comment": TEXT, "version": VERSION}, [], optional=True),
                "responses": _responses(200, TICKET, 400, 401, 403, 404, 409, 422)}},
            "/api/intake/{intake_id}": {"post": {
                "summary": "A payload from another tool, mapped to tickets by the pack's intake ID "
                           "(alertmanager: a Prometheus Alertmanager webhook; json: any JSON object)",
                "security": AUTH,
                "parameters": [{"name": "intake_id", "in": "path", "required": True, "schema": {"type": "string"},
                                "example": "alertmanager"}],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": _responses(200, {"type": "object", "properties": {
                    "results": {"type": "array", "items": {"type": "object", "properties": {
                        "key": {"type": "string"}, "fingerprint": {"type": "string"},
                        "number": {"type": ["string", "null"]},
                        "action": {"enum": ["created", "unchanged", "updated", "resolved", "commented", "ignored",
                                            "rejected"]},
                        "message": {"type": "string"},
                        "dropped": {"type": "object", "additionalProperties": {"type": "string"}}}}}}},
                    400, 401, 403, 404, 409, 422)}},
            "/api/suggestions": {
                "get": {"summary": "Known errors matching a description (resolved incidents, reviews) the caller "
                                   "may see, best first; no searchable words: no items", "security": AUTH,
                        "parameters": [{"name": "text", "in": "query", "required": True, "schema": {"type": "string"}},
                                       {"name": "process", "in": "query", "required": False,
                                        "schema": {"type": "string"}}, LIMIT],
                        "responses": _responses(200, SUGGESTIONS, 400, 401)},
                "post": {"summary": "The same for long texts, in a JSON body", "security": AUTH,
                         "requestBody": _body({"text": TEXT, "process": TEXT,
                                               "limit": {"type": "integer", "minimum": 1, "maximum": 20}}, ["text"]),
                         "responses": _responses(200, SUGGESTIONS, 400, 401)}},
            "/api/tickets/{number}/suggestions": {"get": {
                "summary": "Known errors matching the ticket's own text (without the ticket)", "security": AUTH,
                "parameters": [NUMBER, LIMIT], "responses": _responses(200, SUGGESTIONS, 400, 401, 404)}},
            "/api/triage": {"post": {
                "summary": "Triage suggestions for text being typed: values of the process's triage fields and the "
                           "team with confidences and the words that weighed most, and similar tickets",
                "security": AUTH,
                "requestBody": _body({"process": TEXT, "fields": OBJECT}, ["process"]),
                "responses": _responses(200, TRIAGE, 400, 401)}},
            "/api/tickets/{number}/triage": {"get": {
                "summary": "Triage suggestions for a ticket's own text, and similar tickets (without it)",
                "parameters": [NUMBER], "security": AUTH, "responses": _responses(200, TRIAGE, 400, 401, 404)}},
            "/api/tickets/{number}/links": {
                "get": {"summary": "The ticket's links the caller may follow", "parameters": [NUMBER],
                        "security": AUTH, "responses": _responses(200, {"type": "object"}, 401, 404)},
                "post": {"summary": "Link to another ticket (both ways; idempotent: 200 when the link exists)",
                         "parameters": [NUMBER], "security": AUTH,
                         "requestBody": _body({"to": TEXT, "kind": {
                             "enum": ["known_error", "known_error_of", "related", "parent", "child"],
                             "default": "known_error"}}, ["to"]),
                         "responses": {**_responses(201, {"$ref": "#/components/schemas/Link"}, 400, 401, 403, 404,
                                                    422),
                                       "200": {"description": "The link existed already", "content": {
                                           "application/json": {"schema": {"$ref": "#/components/schemas/Link"}}}}}}},
            "/api/tickets/{number}/review": {"post": {
                "summary": "Open the post-incident review of a resolved major incident, timeline copied in "
                           "(409: not resolved, not major, or it has a review: details name it)",
                "parameters": [NUMBER], "security": AUTH,
                "responses": _responses(201, TICKET, 401, 403, 404, 409)}},
            "/api/tickets/{number}/events": {"get": {
                "summary": "The event log, oldest first", "parameters": [NUMBER], "security": AUTH,
                "responses": _responses(200, {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}}, 401, 404)}},
            "/api/kpis": {"get": {
                "summary": "KPIs of the tickets created in a period (JSON, or CSV rows metric,dimension,value)",
                "security": AUTH, "parameters": KPI_PARAMETERS,
                "responses": {**_responses(200, {"$ref": "#/components/schemas/Kpis"}, 400, 401, 403),
                              "200": {"description": "OK", "content": {
                                  "application/json": {"schema": {"$ref": "#/components/schemas/Kpis"}},
                                  "text/csv": {"schema": {"type": "string"}}}}}}},
            "/api/tickets/{number}/comments": {
                "get": {"summary": "Comments (internal ones for agents only)", "parameters": [NUMBER],
                        "security": AUTH, "responses": _responses(200, {"type": "object"}, 401, 404)},
                "post": {"summary": "Add a comment", "parameters": [NUMBER], "security": AUTH,
                         "requestBody": _body({"text": TEXT, "internal": {"type": "boolean"}}, ["text"]),
                         "responses": _responses(201, TICKET, 400, 401, 403, 404, 422)}},
        },
    }
