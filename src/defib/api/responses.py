"""A JSON response rendered with orjson, for answers built by hand (errors).

It subclasses FastAPI's JSONResponse so a route that names it still publishes its
response_model's schema in OpenAPI (a plain Response subclass is documented as a string).
Routes with a response_model leave the response class alone: FastAPI then serialises
the model with pydantic-core straight to bytes, which is faster than orjson over a dict.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse as _FastAPIJSONResponse


class JSONResponse(_FastAPIJSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # OPT_UTC_Z: a datetime in a hand-built body looks like one in a model (`...Z`).
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z)
