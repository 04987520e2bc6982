"""OpenAPI descriptions of the HTTP API's routes, built from the pydantic models.

The LangGraph server publishes one OpenAPI document (``/openapi.json``, shown at ``/docs``)
and adds a Starlette app's routes to it by reading each endpoint's docstring: the YAML after
a ``---`` line is the route's OpenAPI operation (Starlette's ``SchemaGenerator``). The
decorator below writes that YAML from the request and response models, with their JSON
schemas inlined (the merged document has no room for our own ``components``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import yaml
from langgraph_memgpt.server.auth import USER_ID_REGEX
from langgraph_memgpt.server.schemas import TWO_USERS_RULE, USER_ID_SCHEMA, ErrorBody
from pydantic import BaseModel

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])

USER_HEADER_PARAMETER = {
    "name": "X-User-Id",
    "in": "header",
    "required": False,
    # Empty counts as not sent (resolve_user skips empty user headers).
    "schema": {"type": "string", "pattern": f"^$|{USER_ID_REGEX}"},
    "description": "Whose memory; empty: as if not sent (also accepted: X-OpenWebUI-User-Id, "
    "or a 'user' field; when both a field and this header name a user, it must be the same "
    "one: 400 otherwise). "
    "With API keys (MEMGPT_API_KEYS) the key decides; naming another user is a 403.",
}
USER_QUERY_PARAMETER = {
    "name": "user",
    "in": "query",
    "required": False,
    "schema": USER_ID_SCHEMA,
    "description": "Whose memory (instead of the X-User-Id header). " + TWO_USERS_RULE,
}
AUTH_ERRORS = {
    401: "No or unknown API key (only when the server has MEMGPT_API_KEYS)",
    403: "The API key's user may not act for the user the request names",
}
USER_REFUSAL = "a user id outside its pattern, or two different users named (X-User-Id and a field)"
"""Why any route that takes a user answers 400, besides its own reasons."""


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with every ``$ref`` to its ``$defs`` replaced by the definition."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref")
            if isinstance(reference, str) and reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(schema)


def documented(
    summary: str,
    *,
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    parameters: Sequence[Mapping[str, Any]] = (USER_HEADER_PARAMETER,),
    errors: Mapping[int, str] | None = None,
    streams: bool = False,
    tag: str = "Memory agent",
) -> Callable[[EndpointT], EndpointT]:
    """Attach an OpenAPI operation to a Starlette endpoint (appended to its docstring).

    Example:
        ```python
        @documented("Add to archival memory", request=MemoryAddRequest,
                    response=MemoryAddResponse, status=201, errors={400: "Bad request"})
        async def add_memory(request: Request) -> JSONResponse: ...
        ```
    """
    operation: dict[str, Any] = {"summary": summary, "tags": [tag]}
    if parameters:
        operation["parameters"] = [dict(p) for p in parameters]
    if request is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(request)}},
        }
    content: dict[str, Any] = {}
    if response is not None:
        content["application/json"] = {"schema": inline_schema(response)}
    if streams:
        content["text/event-stream"] = {
            "schema": {"type": "string", "description": "Server-sent events, then [DONE]."}
        }
    responses: dict[str, Any] = {str(status): {"description": "OK", "content": content}}
    refusals = dict(errors or {})
    if any(parameter["name"] == USER_HEADER_PARAMETER["name"] for parameter in parameters):
        own = refusals.get(400)
        refusals[400] = f"{own}; {USER_REFUSAL}" if own else f"Invalid user: {USER_REFUSAL}"
    for code, description in {**AUTH_ERRORS, **refusals}.items():
        responses[str(code)] = {
            "description": description,
            "content": {"application/json": {"schema": inline_schema(ErrorBody)}},
        }
    operation["responses"] = responses

    def attach(endpoint: EndpointT) -> EndpointT:
        text = (endpoint.__doc__ or summary).strip()
        described = yaml.safe_dump(operation, sort_keys=False)
        if "---" in text or "---" in described:
            # Starlette keeps only what follows the last '---' of the docstring.
            raise ValueError(f"{endpoint.__name__}: '---' would cut the docstring's YAML")
        endpoint.__doc__ = f"{text}\n---\n{described}"
        return endpoint

    return attach
