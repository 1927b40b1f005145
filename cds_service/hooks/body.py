"""Reading a JSON request body safely: content type, size (see BodyLimitMiddleware), syntax, nesting depth."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from cds_service.errors import BadRequest, ServiceError

JSON_TYPES = ("application/json", "application/fhir+json")
PARSER_DEPTH_LIMIT = 1024  # orjson refuses deeper documents while parsing, at no extra cost


def _too_deep(value: Any, limit: int) -> bool:
    """Whether the JSON nests deeper than `limit` levels (the top-level value is level 1).

    Walks one level at a time with a list comprehension per level: ~2x faster than a per-item stack on
    large prefetch (profiled: this check cost as much as the rules on a 150-resource request).
    """
    level = [value]
    depth = 1
    while level:
        if depth > limit:
            return True
        level = [v for item in level if isinstance(item, (dict, list))
                 for v in (item.values() if isinstance(item, dict) else item) if isinstance(v, (dict, list))]
        depth += 1
    return False


async def read_json(request: Request, max_depth: int) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES and not content_type.endswith("+json"):
        raise ServiceError(
            f"Content-Type must be application/json (got '{content_type[:80] or 'none'}').",
            status=415, code="not-supported",
        )
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        if "depth" in str(err):
            limit = min(max_depth, PARSER_DEPTH_LIMIT)
            raise BadRequest(f"The JSON is nested deeper than {limit} levels.", code="too-costly") from None
        raise BadRequest(f"The request body is not valid JSON: {str(err)[:200]}") from None
    if max_depth < PARSER_DEPTH_LIMIT and _too_deep(data, max_depth):
        raise BadRequest(f"The JSON is nested deeper than {max_depth} levels.", code="too-costly")
    return data
