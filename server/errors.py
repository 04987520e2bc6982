"""Errors of the HTTP API: one JSON shape for every rejected request.

The body follows OpenAI's error object (``{"error": {"message", "type", "param", "code"}}``)
so OpenAI clients show the message, and the memory endpoints answer the same way. Request
bodies are validated before anything is read or written, so a rejected request changes
nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

ModelT = TypeVar("ModelT", bound=BaseModel)


class ApiError(Exception):
    """A request the API refuses: HTTP status, a message for people, the offending field.

    Example:
        ```python
        raise ApiError(404, "there is no memory block 'pets'", type="not_found", param="label")
        ```
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


async def api_error_response(request: Request, error: Exception) -> JSONResponse:
    """Starlette exception handler for :class:`ApiError` (registered for that class only, so
    the LangGraph server's own routes keep their error format)."""
    assert isinstance(error, ApiError)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def describe_validation_error(error: ValidationError) -> tuple[str, str | None]:
    """A one-line message naming each bad field, and the first field's name."""
    problems = []
    first_field = None
    for detail in error.errors():
        field = ".".join(str(part) for part in detail["loc"]) or None
        first_field = first_field or field
        problems.append(f"{field}: {detail['msg']}" if field else detail["msg"])
    return "invalid request body: " + "; ".join(problems), first_field


async def parse_json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The request body validated as ``model``; a 400 :class:`ApiError` when it is not.

    Example:
        ```python
        payload = await parse_json_body(request, MemoryAddRequest)
        ```
    """
    raw = await request.body()
    if not raw.strip():
        raise ApiError(400, "the request needs a JSON body")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        if any(detail["type"] == "json_invalid" for detail in error.errors()):
            raise ApiError(400, "the request body is not valid JSON") from None
        message, field = describe_validation_error(error)
        raise ApiError(400, message, param=field) from None
