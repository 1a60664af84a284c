"""Pages: a flask-smorest Blueprint whose ``X-Pagination`` header is documented as what it is (JSON
text), and the one place a 1-based page number becomes LIMIT/OFFSET."""

from __future__ import annotations

from typing import Any

from flask_smorest.pagination import PaginationParameters

from api.json_body import Blueprint

MAX_OFFSET = 2**63 - 1  # BIGINT: PostgreSQL raises on a larger OFFSET

PAGINATION_HEADER_DOC = {
    "description": "JSON object: total, total_pages, first_page, last_page, page, previous_page, next_page",
    "schema": {"type": "string"},
}


class PaginatedBlueprint(Blueprint):  # type: ignore[misc]
    def _document_pagination_metadata(self, spec: Any, resp_doc: dict[str, Any]) -> None:
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER_DOC


def page_window(page: int, page_size: int) -> tuple[int, int] | None:
    """``(limit, offset)`` of a 1-based page; None past any possible last page (however many rows)."""
    offset = (page - 1) * page_size
    return None if offset > MAX_OFFSET else (page_size, offset)


def requested_window(pagination: PaginationParameters) -> tuple[int, int] | None:
    """``page_window`` of the page a ``@blp.paginate`` endpoint was asked for."""
    return page_window(pagination.page, pagination.page_size)
