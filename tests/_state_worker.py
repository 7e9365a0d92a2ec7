"""One worker process of the multi-process state tests (tests/test_state_processes.py).

It imports the package, prints ``ready``, waits for a line on stdin (so that every worker starts at
once), does its work under ``settings(state=...)`` and prints one JSON line: what it got, and the error
it met (type and message), if any.

    python tests/_state_worker.py export  STATE WEBHOOK RATE BURST
    python tests/_state_worker.py refresh STATE BASE OAUTH_URL CLIENT_ID CLIENT_SECRET REFRESH ACCESS CALLS
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import opi_bitrix24 as b24


def export(state: str, webhook: str, rate: str, burst: str) -> Dict[str, Any]:
    with b24.settings(state=state, rate_limit=(float(rate), int(burst)), retries=0):
        ids = [int(row["ID"]) for row in b24.iterate(webhook, "crm.lead.list", use_batch=False)]
    return {"ids": ids}


def refresh(
    state: str, base: str, oauth_url: str, client_id: str, secret: str, refresh_token: str, access: str, calls: str
) -> Dict[str, Any]:
    saved: List[str] = []
    app = b24.OAuthApp(client_id, secret, refresh_token, access, on_refresh=lambda pair: saved.append("refreshed"))
    results = []
    with b24.settings(state=state, oauth_app=app, oauth_url=oauth_url, rate_limit=None, retries=0):
        for _ in range(int(calls)):
            results.append(b24.call(base, "profile", token=access).get("result", {}).get("ID"))
    return {"results": results, "access": app.access_token, "refresh": app.refresh_token, "on_refresh": len(saved)}


def main() -> None:
    mode, *args = sys.argv[1:]
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        out = export(*args) if mode == "export" else refresh(*args)
    except Exception as exc:  # noqa: BLE001 - reported to the test
        out = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
