"""Content negotiation on the answers that carry a plan or a review: JSON exactly as before for
JSON clients, a report for `text/plain`, `text/markdown`, `text/html` and
`application/sarif+json`, 406 problem+json for anything else."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import JSONResponse

from api.errors import ApiError
from api.routes.formats import negotiate
from tests.api_support import (
    PROBLEM_JSON,
    TestClient,
    assert_problem,
    json_of,
    occupy,
    serve,
    small_problem,
    submit,
    wait_job,
)
from tests.conftest import load_example

RENDERERS = {"text": "advisor.report.text", "markdown": "advisor.report.markdown",
             "html": "advisor.report.html", "sarif": "advisor.report.sarif"}
REPORTS = {"text/plain": "text", "text/markdown": "markdown", "text/html": "html",
           "application/sarif+json": "sarif"}
SUPPORTED = ["application/json", *REPORTS]
JSON_ACCEPTS = [None, "application/json", "*/*", "application/*", "",
                "application/json; charset=utf-8"]


def need(fmt: str) -> None:
    if fmt in RENDERERS:
        pytest.importorskip(RENDERERS[fmt], reason=f"the {fmt} renderer is not there yet")


def review_problem() -> dict[str, Any]:
    data = load_example("reference-review.yaml")
    data["policy"]["workers"] = 1
    return data


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with serve(tmp_path) as c:
        yield c


def post(client: TestClient, path: str, data: dict[str, Any], accept: str | None) -> Any:
    headers = {} if accept is None else {"Accept": accept}
    return client.post(path, json=data, headers=headers)


def steady(body: dict[str, Any]) -> dict[str, Any]:
    """The answer without its wall time, the one field two solves of one problem differ in."""
    text = json.dumps(body)
    data: dict[str, Any] = json.loads(text)
    for plan in (data.get("current"), data.get("advised"), data):
        if isinstance(plan, dict) and isinstance(plan.get("solver"), dict):
            plan["solver"].pop("wallTimeSeconds", None)
    return data


def check_report(response: Any, media: str, kind: str) -> None:
    """The report in `media`, with content that says what it reports on."""
    assert response.status_code == 200, response.text
    expected = media if media == "application/sarif+json" else f"{media}; charset=utf-8"
    assert response.headers["content-type"] == expected
    assert response.headers["vary"] == "Accept"
    text = response.text
    if media == "application/sarif+json":
        sarif = json.loads(text)
        assert sarif["version"] == "2.1.0"
        assert sarif["runs"]
    elif media == "text/html":
        assert text.lstrip().lower().startswith("<!doctype html")
        assert "<svg" in text
    else:
        assert not text.lstrip().startswith("{")
        assert kind in text.lower()
        assert "optimal" in text


# --- the negotiation rules ----------------------------------------------------------------

@pytest.mark.parametrize(("accept", "fmt"), [
    (None, "json"), ("", "json"), ("*/*", "json"), ("application/*", "json"),
    ("application/json", "json"), ("text/plain", "text"), ("text/markdown", "markdown"),
    ("text/html", "html"), ("application/sarif+json", "sarif"),
    ("text/*", "text"),  # a wildcard gets the first of its kind
    ("TEXT/HTML", "html"),  # media types are case-insensitive
    ("text/html;q=0.9, application/json;q=0.1", "html"),
    ("application/json;q=0.1, text/html;q=0.9", "html"),
    ("application/json;q=0.5, text/markdown", "markdown"),
    ("text/markdown, */*", "markdown"),  # named beats wildcard at equal q
    ("text/html, application/json", "json"),  # a tie: JSON first
    ("application/json;q=0, */*", "text"),  # refused by name, the rest by wildcard
    ("image/png, text/*;q=0.2", "text"),
    ("text/html;level=1;q=0.5, image/png", "html"),  # other parameters do not hide a type
    ("text/html, text/*;q=0", "html"),  # the more specific range decides
    ("text/html;q=abc, text/plain;q=0.4", "text"),  # an unreadable q leaves its range out
    ("text/html, application/xhtml+xml, application/xml;q=0.9, */*;q=0.8", "html"),  # a browser
])
def test_negotiation(accept: str | None, fmt: str) -> None:
    assert negotiate(accept) == fmt


@pytest.mark.parametrize("accept", ["image/png", "application/xml", "text/html;q=0",
                                    "*/*;q=0", "nonsense", "application/problem+json"])
def test_nothing_acceptable(accept: str) -> None:
    with pytest.raises(ApiError) as caught:
        negotiate(accept)
    assert caught.value.status == 406


# --- advise and review --------------------------------------------------------------------

@pytest.mark.parametrize(("path", "kind"), [("/v1/advise", "plan"), ("/v1/review", "review")])
def test_json_clients_get_todays_json_exactly(client: TestClient, path: str, kind: str
                                              ) -> None:
    data = small_problem() if kind == "plan" else review_problem()
    bodies = []
    for accept in JSON_ACCEPTS:
        response = post(client, path, data, accept)
        assert response.status_code == 200, (accept, response.text)
        assert response.headers["content-type"] == "application/json", accept
        # serialised as JSONResponse serialises: the bytes clients have always read
        assert response.content == JSONResponse(response.json()).body
        bodies.append(steady(json_of(response)))
    assert all(body == bodies[0] for body in bodies)
    assert ("advised" in bodies[0]) == (kind == "review")


@pytest.mark.parametrize("media", list(REPORTS))
@pytest.mark.parametrize(("path", "kind"), [("/v1/advise", "plan"), ("/v1/review", "review")])
def test_reports_by_accept(client: TestClient, path: str, kind: str, media: str) -> None:
    need(REPORTS[media])
    data = small_problem() if kind == "plan" else review_problem()
    check_report(post(client, path, data, media), media, kind)


def test_q_values_pick_the_report(client: TestClient) -> None:
    need("html")
    response = post(client, "/v1/advise", small_problem(),
                    "text/html;q=0.9, application/json;q=0.1")
    check_report(response, "text/html", "plan")
    response = post(client, "/v1/advise", small_problem(),
                    "text/html;q=0.1, application/json;q=0.9")
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("path", ["/v1/advise", "/v1/review"])
def test_unsupported_accept_is_406_listing_the_supported_types(client: TestClient, path: str
                                                                ) -> None:
    response = post(client, path, review_problem(), "image/png")
    body = assert_problem(response, 406, "Accept")
    assert body["type"] == "/problems/not-acceptable"
    for media in SUPPORTED:
        assert media in body["detail"]
        assert media in body["errors"][0]["message"]


def test_406_comes_before_the_body_is_read(client: TestClient) -> None:
    response = client.post("/v1/advise", content=b"{not json", headers={
        "Accept": "image/png", "Content-Type": "application/json"})
    assert_problem(response, 406, "Accept")


@pytest.mark.parametrize("accept", ["text/html", "text/plain", "application/sarif+json"])
def test_errors_stay_problem_json_whatever_the_accept(client: TestClient, accept: str) -> None:
    data = small_problem()
    data["containers"][0]["requests"]["cpu"] = "lots"
    response = post(client, "/v1/advise", data, accept)
    assert_problem(response, 422, "containers[0].requests.cpu")
    no_layout = post(client, "/v1/review", small_problem(), accept)
    assert_problem(no_layout, 422, "layout")


def test_capped_time_limit_header_on_reports_too(tmp_path: Path) -> None:
    need("text")
    with serve(tmp_path, max_time_limit_seconds=1.0, default_time_limit_seconds=1.0) as client:
        response = post(client, "/v1/advise", small_problem(timeLimitSeconds=30), "text/plain")
    assert response.status_code == 200, response.text
    assert response.headers["X-Podlayout-Time-Limit-Capped"] == "1"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


# --- jobs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["advise", "review"])
def test_a_finished_job_keeps_its_json(client: TestClient, kind: str) -> None:
    job_id = submit(client, small_problem() if kind == "advise" else review_problem(),
                    kind=None if kind == "advise" else "review")
    job = wait_job(client, job_id, "done")
    for accept in JSON_ACCEPTS:
        headers = {} if accept is None else {"Accept": accept}
        response = client.get(f"/v1/jobs/{job_id}", headers=headers)
        assert response.headers["content-type"] == "application/json", accept
        assert json_of(response) == job  # the job view, unchanged
    assert_problem(client.get(f"/v1/jobs/{job_id}", headers={"Accept": "image/png"}), 406,
                   "Accept")


@pytest.mark.parametrize("media", list(REPORTS))
@pytest.mark.parametrize("kind", ["advise", "review"])
def test_a_finished_job_reports_its_result(client: TestClient, kind: str, media: str) -> None:
    need(REPORTS[media])
    job_id = submit(client, small_problem() if kind == "advise" else review_problem(),
                    kind=None if kind == "advise" else "review")
    wait_job(client, job_id, "done")
    response = client.get(f"/v1/jobs/{job_id}", headers={"Accept": media})
    check_report(response, media, "review" if kind == "review" else "plan")


def test_a_job_without_a_plan_is_409_for_reports(tmp_path: Path) -> None:
    need("text")
    with serve(tmp_path, workers=1) as client:
        running = occupy(client)  # the only worker is busy: the next job waits
        queued = submit(client, small_problem())
        try:
            response = client.get(f"/v1/jobs/{queued}", headers={"Accept": "text/plain"})
            body = assert_problem(response, 409)
            assert body["type"] == "/problems/not-finished"
            assert "queued" in body["detail"]
            as_json = client.get(f"/v1/jobs/{queued}", headers={"Accept": "application/json"})
            assert json_of(as_json)["status"] == "queued"
            # a running job with a plan so far: the report of that plan
            best = client.get(f"/v1/jobs/{running}", headers={"Accept": "text/plain"})
            assert best.status_code == 200, best.text
            assert best.headers["content-type"] == "text/plain; charset=utf-8"
        finally:
            client.delete(f"/v1/jobs/{queued}")
            client.delete(f"/v1/jobs/{running}")


def test_unknown_job_stays_404_problem_json(client: TestClient) -> None:
    response = client.get("/v1/jobs/nope", headers={"Accept": "text/html"})
    assert_problem(response, 404)
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


# --- the OpenAPI document -----------------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), [("post", "/v1/advise"), ("post", "/v1/review"),
                                              ("get", "/v1/jobs/{job_id}")])
def test_openapi_documents_the_media_types_and_406(client: TestClient, method: str, path: str
                                                   ) -> None:
    operation = client.get("/openapi.json").json()["paths"][path][method]
    content = operation["responses"]["200"]["content"]
    assert set(content) == set(SUPPORTED)
    assert "$ref" in content["application/json"]["schema"]  # the model, as before
    assert set(operation["responses"]["406"]["content"]) == {PROBLEM_JSON}
    if path == "/v1/jobs/{job_id}":
        assert set(operation["responses"]["409"]["content"]) == {PROBLEM_JSON}
