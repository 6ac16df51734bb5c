from __future__ import annotations

import logging

from fastapi.testclient import TestClient

from serving.deps import get_text_service
from serving.logs import configure_logging

PHONE = "13912345678"


def test_access_log_has_route_status_key_and_request_id_but_no_query_or_body(client, caplog, admin_headers):
    configure_logging()  # what the lifespan does
    caplog.set_level(logging.INFO, logger="gridsense.access")

    client.get("/v1/risk", params={"grid_id": PHONE}, headers={"X-Request-ID": "req-7"})

    [line] = [r for r in caplog.records if r.name == "gridsense.access"]
    assert (line.route, line.status, line.request_id) == ("/v1/risk", 404, "req-7")
    assert line.key_id == admin_headers["X-API-Key"].split("_")[1]
    assert PHONE not in caplog.text


def test_errors_with_pii_in_the_exception_are_logged_redacted(app, admin_headers, caplog):
    class Broken:
        def prepare(self, request, evidence=False):
            raise RuntimeError(f"cannot classify '{request.text}'")

    configure_logging()
    app.dependency_overrides[get_text_service] = Broken
    client = TestClient(app, raise_server_exceptions=False, headers=admin_headers)

    response = client.post("/v1/classify", json={"text": f"我的电话{PHONE}，邮箱a.b@qq.com"})

    assert response.status_code == 500
    assert PHONE not in caplog.text and "a.b@qq.com" not in caplog.text
    assert "<PHONE>" in caplog.text
