"""Unknown query parameters are refused with 422: a misspelt filter must not silently widen a result.

The parameters an operation knows are read from the OpenAPI spec itself, so the check and the
documentation cannot drift apart.
"""

from __future__ import annotations

import re
from functools import cache

from flask import Flask, request
from flask_smorest import Api

from api.errors import fail

_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def init_app(app: Flask, api: Api) -> None:
    @cache
    def known_query_parameters(rule: str, method: str) -> frozenset[str] | None:
        path = _RULE_ARGUMENT.sub(r"{\1}", rule)
        item = api.spec.to_dict().get("paths", {}).get(path)
        if item is None or method not in item:
            return None  # not an API operation (the spec, the docs): nothing to check
        parameters = [*item.get("parameters", []), *item[method].get("parameters", [])]
        return frozenset(p["name"] for p in parameters if p.get("in") == "query")

    @app.before_request
    def refuse_unknown_query_parameters() -> None:
        if not request.args or request.url_rule is None:
            return
        known = known_query_parameters(request.url_rule.rule, request.method.lower())
        if known is None:
            return
        unknown = sorted(set(request.args) - known)
        if unknown:
            fail(
                422,
                f"unknown query parameter(s): {', '.join(name[:50] for name in unknown[:5])}",
                errors={"query": {name[:50]: ["Unknown field."] for name in unknown[:5]}},
            )
