"""No credential given to a channel appears in any log line of any service.

Runs last (``pytest_collection_modifyitems`` in conftest), over the fleet log of every
end-to-end test before it; the ``api`` client checked every API response the same way.
"""

from __future__ import annotations

import httpx

from tests.e2e.conftest import GIVEN_SECRETS, System, Tenant, make_channel


async def test_no_credential_in_any_service_log(
    api: httpx.AsyncClient, tenant: Tenant, system: System
) -> None:
    await make_channel(api, tenant, "last-check", token="a-token-only-this-test-knows")
    assert "a-token-only-this-test-knows" in GIVEN_SECRETS
    log = system.log_file.read_text(errors="replace")
    for service in ("api", "publisher", "alerter", "recovery"):  # the capture works
        assert f"{service} | " in log and "service.started" in log, service
    leaked = sorted(secret for secret in GIVEN_SECRETS if secret in log)
    assert leaked == [], f"credentials in the services' logs ({system.log_file})"
