"""The OpenAPI 3 document of the JSON API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any

from bot import __version__

__all__ = ["document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"ETag": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": _ref(schema)}},
    }


_ERRORS = {
    "304": {"description": "Not modified: the If-None-Match header named the current ETag"},
    "default": {
        "description": "An error, with its status and a message",
        "content": {"application/json": {"schema": _ref("Error")}},
    },
}

_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": "string", "nullable": True}
_LINK = {"type": "object", "properties": {"id": _STRING, "text": _STRING, "url": _STRING}}


def document(server: str) -> dict[str, Any]:
    """The API's description, with ``server`` (the site's base address) as its server."""
    tag_fields = {
        "name": _STRING,
        "description": _NULLABLE_STRING,
        "link": _NULLABLE_STRING,
        "main_question": _NULLABLE_STRING,
        "url": _STRING,
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Stampy API",
            "version": __version__,
            "description": (
                "Read-only access to Stampy's knowledge base: the same decision as the bot "
                "(answer, did you mean, nothing) and the questions, answers and tags. Every "
                "GET allows any origin (CORS) and carries an ETag."
            ),
        },
        "servers": [{"url": server or "/"}],
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "Ask a question: the bot's decision, with why",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 500},
                        }
                    ],
                    "responses": {"200": _ok("Search", "The decision"), **_ERRORS},
                }
            },
            "/api/questions/{id}": {
                "get": {
                    "summary": "A question with its answers (canonical first) and stamps",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": _STRING}
                    ],
                    "responses": {"200": _ok("Question", "The question"), **_ERRORS},
                }
            },
            "/api/tags": {
                "get": {
                    "summary": "Every tag with its number of questions",
                    "responses": {"200": _ok("Tags", "The tags"), **_ERRORS},
                }
            },
            "/api/tags/{name}": {
                "get": {
                    "summary": "A tag's questions: canonically answered, other answers, none",
                    "parameters": [
                        {"name": "name", "in": "path", "required": True, "schema": _STRING}
                    ],
                    "responses": {"200": _ok("TagPage", "The tag"), **_ERRORS},
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"status": {"type": "integer"}, "message": _STRING},
                        }
                    },
                },
                "Answer": {
                    "type": "object",
                    "properties": {
                        "id": _STRING,
                        "canonical": {"type": "boolean"},
                        "text": {"type": "string", "description": "Markdown, as stored"},
                        "html": {"type": "string", "description": "Rendered, safe HTML"},
                        "author": {
                            **_NULLABLE_STRING,
                            "description": "A name, never a Discord id",
                        },
                        "source": _NULLABLE_STRING,
                        "stamps": {"type": "integer"},
                    },
                },
                "Question": {
                    "type": "object",
                    "properties": {
                        "id": _STRING,
                        "text": _STRING,
                        "url": _STRING,
                        "alternate_phrasings": {"type": "array", "items": _STRING},
                        "tags": {"type": "array", "items": _STRING},
                        "answered": {"type": "boolean"},
                        "answers": {"type": "array", "items": _ref("Answer")},
                        "related": {"type": "array", "items": _LINK},
                    },
                },
                "Search": {
                    "type": "object",
                    "properties": {
                        "query": _STRING,
                        "decision": {
                            "type": "string",
                            "enum": ["answer", "suggest", "none", "small_talk"],
                        },
                        "answered": {"type": "boolean"},
                        "why": _STRING,
                        "question": {
                            "type": "object",
                            "nullable": True,
                            "properties": {
                                "id": _STRING,
                                "text": _STRING,
                                "url": _STRING,
                                "tags": {"type": "array", "items": _STRING},
                            },
                        },
                        "answers": {"type": "array", "items": _ref("Answer")},
                        "suggestions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {**_LINK["properties"], "score": {"type": "number"}},
                            },
                        },
                        "small_talk": _NULLABLE_STRING,
                    },
                },
                "Tags": {
                    "type": "object",
                    "properties": {
                        "tags": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {**tag_fields, "questions": {"type": "integer"}},
                            },
                        }
                    },
                },
                "TagPage": {
                    "type": "object",
                    "properties": {
                        **tag_fields,
                        "canonical": {"type": "array", "items": _LINK},
                        "non_canonical": {"type": "array", "items": _LINK},
                        "unanswered": {"type": "array", "items": _LINK},
                    },
                },
            }
        },
    }
