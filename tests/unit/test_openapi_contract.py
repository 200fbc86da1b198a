"""The OpenAPI document: every body has an example, every error is documented as problem+json."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from herald.api import examples, monitoring_schemas, schemas
from herald.api.main import create_app
from herald.api.openapi_contract import methods_at
from herald.api.routes import platforms
from herald.api.settings import ApiSettings
from herald.common.events import JobChanged


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


def _example_of(schema: dict[str, Any], media: dict[str, Any]) -> Any:
    """The example a response shows: on the media type, or on the (item) schema it names."""
    if "example" in media or "examples" in media:
        return media.get("example", media.get("examples"))
    shape = media["schema"]
    shape = shape.get("items", shape)  # a list shows its items' example
    ref = shape.get("$ref", "").rsplit("/", 1)[-1]
    return schema["components"]["schemas"].get(ref, {}).get("examples")


def test_every_success_with_a_body_has_an_example(schema: dict[str, Any]) -> None:
    missing = [
        f"{method} {path} {status} {media_type}"
        for method, path, operation in _operations(schema)
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for media_type, media in response.get("content", {}).items()
        if not _example_of(schema, media)
    ]
    assert missing == []


def _response_models() -> list[type[BaseModel]]:
    modules = (schemas, monitoring_schemas, platforms)
    return [
        model
        for module in modules
        for model in vars(module).values()
        if isinstance(model, type)
        and issubclass(model, BaseModel)
        and model.__name__.endswith(
            ("Out", "Page", "Created", "Rotated", "Started", "Connected", "Verification")
        )
    ]


def test_every_response_example_is_what_its_model_would_send() -> None:
    checked = 0
    for model in _response_models():
        extra = model.model_config.get("json_schema_extra")
        shown_examples = extra.get("examples") if isinstance(extra, dict) else None
        for example in shown_examples if isinstance(shown_examples, list) else []:
            assert isinstance(example, dict), model.__name__
            shown = model.model_validate(example).model_dump(mode="json")
            assert set(shown) == set(example), model.__name__  # no field left out
            checked += 1
    assert checked >= 25


def test_the_event_stream_example_parses_as_server_sent_events() -> None:
    frames = [f for f in examples.EVENT_STREAM.split("\n\n") if f]
    fields = [dict(line.split(": ", 1) for line in f.splitlines()) for f in frames]
    assert [f["event"] for f in fields] == ["ready", "job.changed"]
    changed = JobChanged.model_validate_json(fields[1]["data"])
    assert changed.status == "succeeded"
