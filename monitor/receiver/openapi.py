"""The OpenAPI 3.1 description of the ingest API and the WebSub callbacks, served at
``/openapi.json``; the body of a submission is described by its own model
(``monitor.ingest.submitted.Submission``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from monitor.ingest.submitted import Submission


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_FOUND = {
    "type": "object",
    "required": ["id", "state"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9a-f]{20}$"},
        "state": {"type": "string", "enum": ["queued", "done"]},
        "url": {"type": ["string", "null"]},
        "title": {"type": "string"},
        "language": {"type": ["string", "null"]},
        "published": {"type": ["string", "null"]},
        "text": {"type": "string"},
        "amounts": {"type": "array", "items": {"type": "object"}},
        "entities": {"type": "object", "additionalProperties": {"type": "array"}},
        "fired": {"type": "array", "items": {"type": "object"}},
        "at": {"type": "string", "description": "when it was processed (ISO 8601)"},
    },
    "description": "While queued: id, state, url and title. Once done: the fields of "
    "`monitor check --json` (title, language, published, text, amounts, entities, fired).",
}


@cache
def openapi_document() -> dict[str, Any]:
    submission = Submission.model_json_schema(ref_template="#/components/schemas/{model}")
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    limits = {
        "401": _error("no valid bearer token"),
        "429": _error("too many requests (see Retry-After)"),
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "news-monitor ingest API", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Submission": submission,
                "Accepted": {
                    "type": "object",
                    "required": ["id", "new"],
                    "properties": {"id": {"type": "string"}, "new": {"type": "boolean"}},
                },
                "Article": _FOUND,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "paths": {
            "/v1/articles": {
                "post": {
                    "summary": "Submit an article: a page's URL, a page's HTML, or text",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/Submission"}
                            }
                        },
                    },
                    "responses": {
                        "202": {
                            "description": "queued for processing",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Accepted"}
                                }
                            },
                        },
                        "200": {"description": "already submitted or polled: processed once"},
                        "413": _error("the body is over MONITOR_MAX_BYTES"),
                        "415": _error("not application/json"),
                        "422": _error("not a valid submission (problems say why)"),
                        **limits,
                    },
                }
            },
            "/v1/articles/{id}": {
                "get": {
                    "summary": "What became of a submitted article",
                    "security": bearer,
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "its state, and once done what was found",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Article"}
                                }
                            },
                        },
                        "404": _error("no such article (or it expired)"),
                        **limits,
                    },
                }
            },
            "/websub/{callback}": {
                "parameters": [
                    {
                        "name": "callback",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
                "get": {
                    "summary": "A WebSub hub verifies our intent (W3C WebSub, 5.3)",
                    "parameters": [
                        {"name": f"hub.{name}", "in": "query", "schema": {"type": "string"}}
                        for name in ("mode", "topic", "challenge", "lease_seconds", "reason")
                    ],
                    "responses": {
                        "200": {
                            "description": "hub.challenge, for a request of ours",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "404": _error("not a subscription we asked for"),
                        "429": limits["429"],
                    },
                },
                "post": {
                    "summary": "A WebSub hub distributes new content of a subscribed feed",
                    "parameters": [
                        {
                            "name": "X-Hub-Signature",
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string", "pattern": "^sha(256|384|512)=[0-9a-f]+$"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/rss+xml": {}, "application/atom+xml": {}},
                    },
                    "responses": {
                        "202": {"description": "taken; new entries queued"},
                        "400": _error("the body is not a feed"),
                        "403": _error("no valid X-Hub-Signature"),
                        "404": _error("no such callback"),
                        "413": _error("the body is over MONITOR_MAX_BYTES"),
                        "429": limits["429"],
                    },
                },
            },
            "/v1/rules": {
                "get": {
                    "summary": "The rules file in force, as text (for the workbench)",
                    "security": bearer,
                    "responses": {"200": {"description": "{path, text}"}, **limits},
                }
            },
            "/v1/rules/preview": {
                "post": {
                    "summary": "A rules file as edited: its problems, or its matches on the "
                    "archive of the last days against the rules in force (nothing is saved)",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["rules"],
                                    "properties": {
                                        "rules": {"type": "string"},
                                        "days": {"type": "number", "default": 3},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "valid, problems (line, column, message), "
                            "and each rule's fires with examples, added and removed"
                        },
                        "422": _error("not {rules, days}"),
                        **limits,
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "200 when the store answers",
                    "responses": {
                        "200": {"description": "ok"},
                        "503": _error("the store cannot be reached"),
                    },
                }
            },
        },
    }
