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
                    410: "Removed by an administrator (or its bytes are gone)",
                    413: "Larger than the size limit per file (20 MiB unless configured)",
                    415: "A file type that is not on the allow-list, or content that is not what its name says",
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


WATCHERS = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
    "type": "object", "required": ["user", "added_by", "added_at"],
    "properties": {"user": TEXT, "added_by": TEXT, "added_at": {"type": "string", "format": "date-time"}}}}}}
NUMBER = {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}, "example": "INC0000001"}
AUTH: list[dict[str, list[str]]] = [{"bearer": []}]
LIMIT = {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": 20, "default": 5}}
_RANKED = {"type": "array", "description": "best first; only values at the pack's min_confidence or above",
           "items": {"type": "object", "required": ["value", "confidence"], "properties": {
               "value": {"type": "string"}, "confidence": {"type": "number", "minimum": 0, "maximum": 1},
               "words": {"type": "array", "items": {"type": "string"},
                         "description": "the pieces of the text that weighed most for this value"}}}}
OUTAGE = {"type": "object", "required": ["number", "title", "priority", "children"], "properties": {
    "number": {"type": "string"}, "title": {"type": "string"}, "priority": {"type": ["string", "null"]},
    "children": {"type": "integer", "description": "incidents linked to it so far"},
    "score": {"type": "number", "description": "matching only: similarity of the texts, 0..1"}}}
OUTAGES = {"type": "object", "required": ["matching", "other"], "properties": {
    "matching": {"type": "array", "items": OUTAGE, "description": "like the text, most similar first"},
    "other": {"type": "array", "items": OUTAGE, "description": "the other ongoing outages, newest first"}}}
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
    {"name": "org", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "Tickets reported from this organization or any under it."},
    {"name": "group_by", "in": "query", "required": False, "schema": {"enum": ["org"]},
     "description": "org: also the figures of each organization directly under `org` (or of each root), "
                    "each over its subtree, in `by_org`."},
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
    "channels": _COUNTS,
    "by_week": {"type": "array", "description": "tickets created per week of the desk (Monday, pack time zone)",
                "items": {"type": "object", "properties": {"week": {"type": "string", "format": "date"},
                                                           "created": {"type": "integer"}}}},
    "org": {"type": ["string", "null"]}, "group_by": {"enum": ["org"]},
    "by_org": {"type": "array", "items": {"type": "object", "properties": {
        "org": {"type": ["string", "null"], "description": "null: tickets of no organization"},
        "name": {"type": ["string", "null"]},
        "own": {"type": "boolean", "description": "tickets reported from `org` itself, not from under it"},
        "children": {"type": "integer", "description": "organizations directly under this one"},
        "tickets": {"type": "object", "properties": {"created": {"type": "integer"}, "open": {"type": "integer"},
                                                     "resolved": {"type": "integer"}}},
        "time_to_acknowledge": _DURATION, "time_to_resolve": _DURATION,
        "sla": {"type": "object", "additionalProperties": {"type": "object", "properties": {
            "met": {"type": "integer"}, "breached": {"type": "integer"}, "running": {"type": "integer"},
            "total": {"type": "integer"}, "compliance_percent": _RATE}}},
        "reopen": {"type": "object"}, "first_contact_resolution": {"type": "object"},
        "satisfaction": {"type": "object", "properties": {"count": {"type": "integer"},
                                                          "average": {"type": ["number", "null"]}}}}}}}}


BOOLEAN = {"type": "boolean"}
ORG_FIELDS: dict[str, Any] = {
    "name": TEXT, "parent": {"type": "string", "description": "the parent organization's id; null: a root"},
    "domains": {"type": "array", "items": {"type": "string"}, "description": "mail domains (hz.gov.cn)"},
    "vip": BOOLEAN, "active": BOOLEAN}
ORG = {"$ref": "#/components/schemas/Organization"}
USER_FIELDS: dict[str, Any] = {
    "email": TEXT, "full_name": TEXT, "org": {"type": "string", "description": "an organization id"},
    "locale": {"type": "string", "examples": ["zh-CN"]}, "timezone": {"type": "string", "examples": ["Asia/Shanghai"]},
    "vip": BOOLEAN, "admin": BOOLEAN, "org_contact": BOOLEAN, "active": BOOLEAN,
    "password": {"type": "string", "description": "a new password (8 characters or more)"}}
USER = {"$ref": "#/components/schemas/User"}
PAGING: list[dict[str, Any]] = [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "the next_cursor of the page before"}]
FLAG = {"enum": ["true", "false", "1", "0"]}


def _page_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"items": {"type": "array", "items": item},
                                             "next_cursor": {"type": ["string", "null"]}}}


def _people_schemas() -> dict[str, Any]:
    nullable_text = {"type": ["string", "null"]}
    return {
        "Organization": {"type": "object", "properties": {
            "id": TEXT, "name": TEXT, "parent": nullable_text,
            "path": {"type": "array", "items": TEXT, "description": "ids from the root down to this one"},
            "domains": {"type": "array", "items": TEXT}, "vip": BOOLEAN, "active": BOOLEAN,
            "children": {"type": "integer"}, "users": {"type": "integer", "description": "direct members"},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"}}},
        "User": {"type": "object", "properties": {
            "name": TEXT, "email": nullable_text, "full_name": nullable_text, "org": nullable_text,
            "org_name": nullable_text, "locale": nullable_text, "timezone": nullable_text, "vip": BOOLEAN,
            "admin": BOOLEAN, "org_contact": BOOLEAN, "active": BOOLEAN, "has_password": BOOLEAN,
            "created_at": {"type": "string", "format": "date-time"}}},
    }


def _people_paths() -> dict[str, Any]:
    org_id = {"name": "org_id", "in": "path", "required": True, "schema": {"type": "string"}, "example": "zhejiang"}
    name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}, "example": "rita"}
    query = [{"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}]
    return {
        "/api/orgs": {
            "get": {"summary": "Organizations (admins): q= in id or name, parent=ID its children (parent= empty: "
                               "the roots), active=; in the order of the tree", "security": AUTH,
                    "parameters": [*query, {"name": "parent", "in": "query", "required": False,
                                            "schema": {"type": "string"}},
                                   {"name": "active", "in": "query", "required": False, "schema": FLAG}, *PAGING],
                    "responses": _responses(200, _page_of(ORG), 400, 401, 403)},
            "post": {"summary": "Create an organization (admins)", "security": AUTH,
                     "requestBody": _body({"id": TEXT, **ORG_FIELDS}, ["id", "name"]),
                     "responses": _responses(201, ORG, 400, 401, 403, 409, 422)}},
        "/api/orgs/{org_id}": {
            "get": {"summary": "An organization (admins)", "parameters": [org_id], "security": AUTH,
                    "responses": _responses(200, ORG, 401, 403, 404)},
            "patch": {"summary": "Change an organization (admins): a new parent moves its subtree; cycles are "
                                 "refused (422)", "parameters": [org_id], "security": AUTH,
                      "requestBody": _body(ORG_FIELDS, []),
                      "responses": _responses(200, ORG, 400, 401, 403, 404, 409, 422)}},
        "/api/users": {
            "get": {"summary": "Users (admins): q= in name, full name or mail address, org= its subtree's "
                               "members, active=, admin=, org_contact=; by name. Agents: only q= (also in the "
                               "organization's name) and limit= (at most 20), the people they may record "
                               "tickets for (name, full_name, email, org, org_name)", "security": AUTH,
                    "parameters": [*query, {"name": "org", "in": "query", "required": False,
                                            "schema": {"type": "string"}},
                                   *({"name": n, "in": "query", "required": False, "schema": FLAG}
                                     for n in ("active", "admin", "org_contact")), *PAGING],
                    "responses": _responses(200, _page_of(USER), 400, 401, 403)},
            "post": {"summary": "Create a user (admins)", "security": AUTH,
                     "requestBody": _body({"name": TEXT, **USER_FIELDS}, ["name"]),
                     "responses": _responses(201, USER, 400, 401, 403, 409, 422)}},
        "/api/users/{name}": {
            "get": {"summary": "A user (admins)", "parameters": [name], "security": AUTH,
                    "responses": _responses(200, USER, 401, 403, 404)},
            "patch": {"summary": "Change a user (admins): null clears a text; active=false disables them (no "
                                 "sign-in, tokens refused); password sets a new one", "parameters": [name],
                      "security": AUTH, "requestBody": _body(USER_FIELDS, []),
                      "responses": _responses(200, USER, 400, 401, 403, 404, 409, 422)}},
    }


QUEUE_NOTES = {
    "assignee": "A user name; me: the caller; none: nobody (unassigned).",
    "team": "A team id; mine: the caller's teams.",
    "sla": "breached, at_risk (a warning fired), running or paused: a clock of the ticket is.",
    "cursor": "The next_cursor of the page before (for the same sort).",
}
BULK = {"type": "object", "required": ["results", "succeeded", "failed"], "properties": {
    "succeeded": {"type": "integer"}, "failed": {"type": "integer"},
    "results": {"type": "array", "items": {"type": "object", "required": ["number", "ok"], "properties": {
        "number": {"type": "string"}, "ok": {"type": "boolean"},
        "state": {"type": "string"}, "team": {"type": ["string", "null"]},
        "assignee": {"type": ["string", "null"]}, "version": {"type": "integer"},
        "status": {"type": "integer", "description": "failed: the HTTP status this ticket alone would get"},
        "error": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object"}}}}}}}


ATTACHMENT_KEYS = ("id", "name", "size", "content_type", "sha256")
ATTACHMENT_ID = {"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "integer"}}
ATTACHMENT_PATHS: dict[str, Any] = {
    "/api/tickets/{number}/attachments": {
        "post": {"summary": "Attach a file (multipart/form-data, field `file`); the same visibility as the ticket",
                 "parameters": [NUMBER], "security": AUTH,
                 "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                     "type": "object", "required": ["file"], "additionalProperties": False, "properties": {
                         "file": {"type": "string", "format": "binary",
                                  "description": "The file; its name (with its extension) decides its type"},
                         "internal": {"type": "boolean", "default": False,
                                      "description": "agents only: hidden from the requester"}}}}}},
                 "responses": _responses(201, {"type": "object", "required": list(ATTACHMENT_KEYS), "properties": {
                     "id": {"type": "integer"}, "name": {"type": "string"}, "size": {"type": "integer"},
                     "content_type": {"type": "string"}, "sha256": {"type": "string"}}},
                     400, 401, 403, 404, 413, 415, 422)},
        "get": {"summary": "The ticket's attachments (not removed; internal ones for agents only), oldest first",
                "parameters": [NUMBER], "security": AUTH,
                "responses": _responses(200, {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"$ref": "#/components/schemas/Attachment"}}}}, 401, 404)}},
    "/api/attachments/{attachment_id}": {
        "get": {"summary": "The file's bytes, as a download (Content-Disposition: attachment, nosniff)",
                "parameters": [ATTACHMENT_ID], "security": AUTH,
                "responses": {**_responses(200, None, 401, 404, 410),
                              "200": {"description": "The bytes", "content": {
                                  "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}},
        "delete": {"summary": "Remove an attachment (administrators): an event on the ticket; then 410",
                   "parameters": [ATTACHMENT_ID], "security": AUTH,
                   "responses": _responses(200, {"$ref": "#/components/schemas/Attachment"}, 401, 403, 404, 410)}},
}


def openapi_document() -> dict[str, Any]:
    ticket_ops = {"get": {"summary": "A ticket", "parameters": [NUMBER], "security": AUTH,
                          "responses": _responses(200, TICKET, 401, 404)},
                  "patch": {"summary": "Update fields", "parameters": [NUMBER], "security": AUTH,
                            "requestBody": _body({"fields": OBJECT, "version": VERSION}, ["fields", "version"]),
                            "responses": _responses(200, TICKET, 400, 401, 403, 404, 409, 422)}}
    filters: list[dict[str, Any]] = [{"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
               for n in ("process", "state", "priority", "team", "assignee", "requester", "q", "sla", "cursor")]
    filters.append({"name": "org", "in": "query", "required": False, "schema": {"type": "string"},
                    "description": "An organization id: the tickets of it and the organizations under it, of those "
                                   "the caller may see (400 for an organization that does not exist)."})
    filters.append({"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}})
    for found in filters:
        if found["name"] in QUEUE_NOTES:
            found["description"] = QUEUE_NOTES[found["name"]]
    filters += [
        {"name": "sort", "in": "query", "required": False,
         "schema": {"enum": ["urgency", "-created", "created", "-updated", "priority"]},
         "description": "urgency (the default for agents: breached first, then the nearest running SLA deadline, "
                        "then priority, then the oldest), -created (newest first: the default for requesters), "
                        "created, -updated, priority (most urgent level first, then the oldest). Ignored with q "
                        "(best match first). Every order pages with next_cursor."},
        {"name": "include_closed", "in": "query", "required": False, "schema": {"enum": ["true", "false"]},
         "description": "Tickets in a final state too. Default: false for agents, true for requesters and "
                        "whenever state= is given."},
        {"name": "unassigned", "in": "query", "required": False, "schema": {"enum": ["true", "false"]},
         "description": "true: tickets nobody holds (the same as assignee=none)."},
        {"name": "count", "in": "query", "required": False, "schema": {"enum": ["true", "false"]},
         "description": "true: the answer also gives `total`, how many tickets match."}]
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
                "Attachment": {"type": "object", "required": list(ATTACHMENT_KEYS), "properties": {
                    "id": {"type": "integer"}, "ticket": {"type": "string"}, "name": {"type": "string"},
                    "size": {"type": "integer", "description": "bytes"},
                    "content_type": {"type": "string", "description": "from the allow-list, by the name's extension"},
                    "sha256": {"type": "string"}, "internal": {"type": "boolean"},
                    "uploaded_by": {"type": "string"}, "uploaded_at": {"type": "string", "format": "date-time"},
                    "removed_at": {"type": ["string", "null"], "format": "date-time"},
                    "removed_by": {"type": ["string", "null"]}}},
                "Event": {"type": "object", "required": list(EVENT_KEYS), "properties": {
                    "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
                    "kind": {"type": "string"}, "transition": {"type": ["string", "null"]},
                    "from": {"type": ["string", "null"]}, "to": {"type": ["string", "null"]},
                    "changes": {"type": "object"}, "comment": {"type": ["string", "null"]},
                    "data": {"type": "object", "description": "what else the event recorded, by kind"},
                    "definitions_version": {"type": "string"}}},
                **_people_schemas(),
            },
        },
        "paths": {
            **_people_paths(),
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
                "get": {"summary": "Tickets the caller may see: most urgent first for agents, newest first for "
                                   "requesters (sort=)", "security": AUTH,
                        "description": "What the caller may see (SPEC 9, 14): the tickets it reported or holds; an "
                                       "agent's those of its processes, limited to its teams' organizations "
                                       "(org_scope); an organization's contact also those of its organization "
                                       "and the organizations under it; admins every ticket.",
                        "parameters": filters,
                        "responses": _responses(200, {"type": "object", "properties": {
                            "items": {"type": "array", "items": TICKET},
                            "next_cursor": {"type": ["string", "null"]},
                            "total": {"type": "integer", "description": "with count=true"}}}, 400, 401)}},
            "/api/tickets/bulk": {"post": {
                "summary": "One action on many tickets, each in its own transaction: a failure on one leaves the "
                           "others done; every ticket's outcome is listed",
                "security": AUTH,
                "requestBody": _body({
                    "numbers": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                "description": "ticket numbers, at most 200"},
                    "action": {"enum": ["assign", "transition", "comment", "link"]},
                    "team": {"type": "string", "description": "assign: the team"},
                    "assignee": {"type": "string", "description": "assign: the person"},
                    "transition": {"type": "string", "description": "transition: its id"},
                    "fields": {"type": "object", "description": "transition: the values of its form"},
                    "comment": {"type": "string", "description": "transition: a comment with it"},
                    "text": {"type": "string", "description": "comment: the text"},
                    "internal": {"type": "boolean", "description": "comment: a work note (agents)"},
                    "to": {"type": "string", "description": "link: the parent (an ongoing outage) each ticket "
                                                            "becomes a child of"}},
                    ["numbers", "action"]),
                "responses": _responses(200, BULK, 400, 401)}},
            "/api/tickets/{number}/assign": {"post": {
                "summary": "Give the ticket to a team (nobody in it in particular) or a person (\"me\": the caller; "
                           "the team stays when the person is in it)", "parameters": [NUMBER], "security": AUTH,
                "requestBody": _body({"team": TEXT, "assignee": TEXT, "version": VERSION}, []),
                "responses": _responses(200, TICKET, 400, 401, 403, 404, 409, 422)}},
            "/api/tickets/{number}/candidates": {"get": {
                "summary": "Who the ticket may be given to: the members of the teams that serve it, with their team "
                           "and open tickets (its own team first, then the least loaded)", "parameters": [NUMBER],
                "security": AUTH, "responses": _responses(200, {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"type": "object", "required": ["user", "team", "load"],
                                                         "properties": {
                        "user": TEXT, "team": TEXT, "load": {"type": "integer"},
                        "skills": {"type": "array", "items": TEXT}, "same_team": BOOLEAN}}}}}, 400, 401, 404)}},
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
            "/api/outages": {
                "get": {"summary": "Agents of the process: its ongoing outages (open, of the last three days, with "
                                   "children or of the most urgent priority), those like `text` first by similarity "
                                   "(`matching`, with `score`), the rest newest first (`other`)", "security": AUTH,
                        "parameters": [{"name": "process", "in": "query", "required": True,
                                        "schema": {"type": "string"}},
                                       {"name": "text", "in": "query", "required": False,
                                        "schema": {"type": "string"}}],
                        "responses": _responses(200, OUTAGES, 400, 401, 403)},
                "post": {"summary": "The same for long texts, in a JSON body", "security": AUTH,
                         "requestBody": _body({"process": TEXT, "text": TEXT}, ["process"]),
                         "responses": _responses(200, OUTAGES, 400, 401, 403)}},
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
            "/api/tickets/{number}/watchers": {
                "get": {"summary": "The people following the ticket (recipient `watchers` of notifications)",
                        "parameters": [NUMBER], "security": AUTH, "responses": _responses(200, WATCHERS, 401, 404)},
                "post": {"summary": "Add a watcher (agents and the requester; anyone who sees the ticket may add "
                                    "themselves). 422 when the user may not see the ticket; idempotent",
                         "parameters": [NUMBER], "security": AUTH, "requestBody": _body({"user": TEXT}, ["user"]),
                         "responses": _responses(201, WATCHERS, 400, 401, 403, 404, 422)}},
            "/api/tickets/{number}/watchers/{user}": {"delete": {
                "summary": "Remove a watcher (agents and the requester; anyone may remove themselves); idempotent",
                "parameters": [NUMBER, {"name": "user", "in": "path", "required": True, "schema": TEXT,
                                        "example": "carol"}],
                "security": AUTH, "responses": _responses(200, WATCHERS, 401, 403, 404)}},
            **ATTACHMENT_PATHS,
        },
    }
