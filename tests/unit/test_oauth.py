"""PKCE, the authorization URL and the token endpoint's answers (pure parts of
herald.common.oauth)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from herald.common.oauth import (
    OAuthClient,
    TokenEndpointFailed,
    TokenGrant,
    TokenRefused,
    authorization_url,
    challenge,
    grant_from,
    new_state,
    new_verifier,
)

GOOGLE = OAuthClient(
    platform="google_business",
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    token_url="https://oauth2.googleapis.com/token",
    scopes=("https://www.googleapis.com/auth/business.manage",),
    client_id="cid",
    client_secret="cs",
    authorize_params=(("access_type", "offline"), ("prompt", "consent")),
)


def test_the_s256_challenge_of_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifiers_and_states_are_long_random_and_url_safe() -> None:
    verifiers = {new_verifier() for _ in range(50)}
    assert len(verifiers) == 50
    assert all(43 <= len(v) <= 128 and re.fullmatch(r"[A-Za-z0-9_\-]+", v) for v in verifiers)
    assert len(new_state()) >= 43


def test_the_authorization_url_carries_the_challenge_not_the_verifier() -> None:
    verifier = new_verifier()
    url = authorization_url(GOOGLE, "https://herald.example/v1/oauth/callback/g", "st", verifier)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == GOOGLE.authorize_url
    assert query == {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "https://herald.example/v1/oauth/callback/g",
        "scope": "https://www.googleapis.com/auth/business.manage",
        "state": "st",
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
        "access_type": "offline",
        "prompt": "consent",
    }
    assert verifier not in url


def _answer(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def test_a_grant_with_and_without_rotation() -> None:
    rotated = grant_from(
        _answer(200, {"access_token": "a", "refresh_token": "r2", "expires_in": 7200}),
        frozenset({"invalid_grant"}),
    )
    assert rotated == TokenGrant("a", "r2", 7200.0)
    kept = grant_from(_answer(200, {"access_token": "a"}), frozenset({"invalid_grant"}))
    assert kept == TokenGrant("a", None, None)


@pytest.mark.parametrize(
    ("status", "body", "gone", "code"),
    [
        (400, {"error": "invalid_grant"}, True, "invalid_grant"),
        (400, {"error": "invalid_request"}, True, "invalid_request"),  # X's word for it
        (401, {"error": "invalid_client"}, False, "invalid_client"),
    ],
)
def test_refusals(status: int, body: dict[str, str], gone: bool, code: str) -> None:
    with pytest.raises(TokenRefused) as refused:
        grant_from(_answer(status, body), frozenset({"invalid_grant", "invalid_request"}))
    assert (refused.value.code, refused.value.grant_gone) == (code, gone)


@pytest.mark.parametrize(
    ("status", "body"), [(503, {"error": "unavailable"}), (429, {}), (200, {"no": "token"})]
)
def test_failures_of_the_endpoint(status: int, body: dict[str, str]) -> None:
    with pytest.raises(TokenEndpointFailed) as failed:
        grant_from(_answer(status, body, **{"retry-after": "3"}), frozenset({"invalid_grant"}))
    assert failed.value.status == status
