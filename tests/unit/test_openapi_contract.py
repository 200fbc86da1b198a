"""The OpenAPI document: every body has an example, every error is documented as problem+json."""

from __future__ import annotations

from typing import Any

import pytest

from herald.api.main import create_app
from herald.api.openapi_contract import methods_at
from herald.api.settings import ApiSettings


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    document: dict[str, Any] = create_app(ApiSettings()).openapi()
    return document


def _operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, ops in schema["paths"].items() for m, op in ops.items()]


def test_every_request_body_has_an_example(schema: dict[str, Any]) -> None:
    components = schema["components"]["schemas"]
    missing = []
    for method, path, operation in _operations(schema):
        if body := operation.get("requestBody"):
            ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            if not components[ref].get("examples"):
                missing.append(f"{method} {path} ({ref})")
    assert missing == []


def test_every_operation_documents_its_problems(schema: dict[str, Any]) -> None:
    for method, path, operation in _operations(schema):
        responses = operation["responses"]
        expected = {"422", "429", "503"} | ({"401", "403"} if operation.get("security") else set())
        expected |= {"404"} if "{" in path else set()
        assert expected <= set(responses), (method, path)
        for status in expected:
            content = responses[status]["content"]
            assert "application/problem+json" in content, (method, path, status)
    assert "HTTPValidationError" not in schema["components"]["schemas"]


def test_allow_lists_every_method_of_the_path(schema: dict[str, Any]) -> None:
    assert methods_at(schema, "/v1/assets") == ["GET", "POST"]
    assert methods_at(schema, "/v1/assets/0194f0c2-7c1e-7d4a-9a53-2f1f0e7d9b11") == ["GET", "PATCH"]
    assert methods_at(schema, "/v1/jobs/redrive") == ["POST"]  # the literal wins over {job_id}
    assert methods_at(schema, "/v1/nothing") == []
