"""Any SDK pager, read so that it ends: a continuation seen before, or too many pages, stops it.

azure-core's pagers follow whatever continuation the service returns (`nextLink`, a blob
listing's `NextMarker`): a server that answers with the page just read, or with a fresh link
forever, keeps the loop going without end. The host pin (egress.py) already keeps a foreign
link from being followed; this keeps a looping one from holding the run. The cluster and
Activity Log listings read JSON pages themselves (listing.py) under the same two rules.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypeVar

from azure.core.async_paging import AsyncItemPaged

from auditor.azure.egress import PagingLoop

T = TypeVar("T")
MAX_PAGES = 10_000  # far beyond any real listing the auditor reads (AKS allows 5,000 clusters per subscription)


async def guarded_items(pager: AsyncItemPaged[T], what: str) -> AsyncIterator[T]:
    """Every item of every page; PagingLoop when a page's continuation repeats an earlier one or the
    listing passes MAX_PAGES (the items read so far have been yielded: the caller decides)."""
    pages = pager.by_page()
    seen: set[str] = set()
    count = 0
    async for page in pages:
        async for item in page:
            yield item
        count += 1
        token = getattr(pages, "continuation_token", None)  # azure-core's AsyncPageIterator keeps it
        if token is None or token == "":
            continue
        key = str(token)
        if key in seen:
            raise PagingLoop(f"{what} repeated an earlier continuation; stopped there, later pages were not read")
        if count >= MAX_PAGES:
            raise PagingLoop(f"{what} went past {MAX_PAGES} pages; stopped there")
        seen.add(key)
