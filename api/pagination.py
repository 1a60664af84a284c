"""A flask-smorest Blueprint whose ``X-Pagination`` header is documented as what it is: JSON text."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

PAGINATION_HEADER_DOC = {
    "description": "JSON object: total, total_pages, first_page, last_page, page, previous_page, next_page",
    "schema": {"type": "string"},
}


class PaginatedBlueprint(Blueprint):  # type: ignore[misc]
    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC
