"""Hostile kinds for the bulk additions: batch, iterate and all_pages (tests/hostile.py, docs/hostile.md)."""

from __future__ import annotations

from typing import Optional

from hostile import KEY, Answer, Call, Check, kind

from opi_bitrix24 import _bulk
from opi_bitrix24._errors import APIError, InvalidArgument

# --- batch ----------------------------------------------------------------------------------------


@kind("batch", "a reference to a command of another chunk of 50", "InvalidArgument naming both keys; nothing sent")
def test_reference_across_chunks(h: Check) -> None:
    portal = h.portal()
    commands = [("crm.lead.get", {"id": i}) for i in range(1, 51)] + [("crm.lead.get", {"id": "$result[k3][ID]"})]
    with h.raises(InvalidArgument) as caught:
        _bulk.batch(portal.webhook, commands)
    assert "k50 refers to $result[k3]" in str(caught.value)
    assert portal.requests == []


@kind("batch", "the batch request itself fails, echoing the webhook key", "APIError with the code; no key in it")
def test_batch_request_fails(h: Check) -> None:
    def fail(call: Call) -> Optional[Answer]:
        echo = f"bad request to /rest/1/{KEY}/batch"
        return (400, {"error": "INVALID_REQUEST", "error_description": echo}) if call.method == "batch" else None

    portal = h.portal(fail)
    with h.raises(APIError) as caught:
        _bulk.batch(portal.webhook, [("crm.lead.get", {"id": 1})])
    assert caught.value.error == "INVALID_REQUEST" and caught.value.status == 400
    assert [(s.verb, s.path) for s in portal.requests] == [("POST", f"/rest/1/{KEY}/batch")]
    assert portal.requests[0].json() == {"halt": 0, "cmd": {"k0": "crm.lead.get?id=1"}}
