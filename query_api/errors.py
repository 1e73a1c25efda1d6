"""One error shape for every failure: ``{"error": {"code", "message", "details"?}}``.

Codes are stable and meant for programs (``unauthorized``, ``forbidden``, ``not_found``,
``invalid_parameter``, ``method_not_allowed``, ``unavailable``, ``internal``); messages are
for people and may change.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("loomline.api")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
    422: "invalid_parameter",
    500: "internal",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise from a route to answer with the error shape."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.headers = headers
        self.details = details


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} {ident!r} not found in this organization")


def invalid(param: str, message: str) -> ApiError:
    return ApiError(422, f"{param}: {message}", details=[{"param": param, "message": message}])


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def _response(status: int, code: str, message: str, headers: dict[str, str] | None = None,
              details: list[dict[str, Any]] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _describe(error: dict[str, Any]) -> dict[str, Any]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("query", "path", "header")]
    return {"param": ".".join(location) or "request", "message": str(error.get("msg", "invalid"))}


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the same JSON shape."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _response(exc.status, exc.code, exc.message, exc.headers, exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [_describe(e) for e in exc.errors()]
        message = "; ".join(f"{d['param']}: {d['message']}" for d in details) or "invalid request"
        return _response(422, "invalid_parameter", message, details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.url.path}"
        return _response(exc.status_code, _CODES.get(exc.status_code, "error"), message,
                         getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error serving %s %s", request.method, request.url.path)
        return _response(500, "internal", "internal error; the server log has the details")
