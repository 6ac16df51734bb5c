"""PII never reaches the logs or the audit log: the redacting filter, the JSON formatter, the app's
access log and the audit file all redact before writing."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core.audit import AuditLog
from serving.logs import REQUEST_ID, JsonFormatter, RedactingFilter, configure_logging, uvicorn_log_config

VALID_ID = "11010519491231002X"  # GB 11643 worked example, check character X
LUHN_CARD = "6222021234567890128"

PII_CASES = [
    (f"身份证{VALID_ID}", VALID_ID, "<ID>"),
    (f"身份证{VALID_ID.lower()}", VALID_ID.lower(), "<ID>"),
    ("手机13912345678", "13912345678", "<PHONE>"),
    ("手机+86 139-1234-5678", "139-1234-5678", "<PHONE>"),
    ("座机0571-88886666", "88886666", "<TEL>"),
    ("座机(010)12345678", "12345678", "<TEL>"),
    ("邮箱li.si@example.com.cn", "li.si@example.com", "<EMAIL>"),
    (f"卡号{LUHN_CARD}", LUHN_CARD, "<CARD>"),
    ("卡号4111 1111 1111 1111", "4111 1111 1111", "<CARD>"),
    ("车牌京A12345", "京A12345", "<PLATE>"),
    ("车牌粤B·D12345", "D12345", "<PLATE>"),
]


def record(message: str, *args, **extra) -> logging.LogRecord:
    made = logging.LogRecord("gridsense.test", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


@pytest.mark.parametrize(("text", "secret", "placeholder"), PII_CASES)
def test_json_formatter_redacts_message_args_and_extras(text, secret, placeholder):
    line = JsonFormatter().format(record("report %s", text, note=f"extra {text}", nested={"t": [text]}))

    payload = json.loads(line)
    assert secret not in line
    assert placeholder in payload["message"] and placeholder in payload["note"]
    assert placeholder in payload["nested"]["t"][0]


def test_the_exception_text_is_redacted_too():
    try:
        raise ValueError(f"bad report from 13912345678 id {VALID_ID}")
    except ValueError:
        import sys

        made = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())

    line = JsonFormatter().format(made)

    assert "13912345678" not in line and VALID_ID not in line
    assert "<PHONE>" in json.loads(line)["exception"]


def test_a_checksum_failing_id_number_is_redacted_too():  # a mistyped ID is still personal data
    line = JsonFormatter().format(record("ticket 110105194912310021 closed"))

    assert json.loads(line)["message"] == "ticket <ID> closed"


def test_log_lines_carry_the_request_id():
    token = REQUEST_ID.set("req-123")
    try:
        line = JsonFormatter().format(record("hello"))
    finally:
        REQUEST_ID.reset(token)

    assert json.loads(line)["request_id"] == "req-123"


def test_the_filter_protects_every_handler_including_plain_text_ones():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("gridsense.test.plain")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("caller %s wrote %s", "13912345678", "li@example.com")
    finally:
        logger.removeHandler(handler)

    assert stream.getvalue().strip() == "caller <PHONE> wrote <EMAIL>"


def test_configure_logging_adds_the_filter_to_existing_root_handlers():
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        configure_logging("INFO", "json")
        configure_logging("INFO", "json")  # idempotent
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    finally:
        root.removeHandler(handler)


def test_uvicorn_config_routes_everything_through_the_redacting_handler():
    import logging.config

    config = uvicorn_log_config("INFO", "json")
    logging.config.dictConfig(config)  # must be a valid dictConfig
    try:
        handler = logging.getLogger().handlers[0]
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        assert isinstance(handler.formatter, JsonFormatter)
        assert logging.getLogger("uvicorn.error").propagate
    finally:
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize(("text", "secret", "placeholder"), PII_CASES)
def test_the_audit_log_is_redacted(tmp_path, text, secret, placeholder):
    audit = AuditLog(tmp_path / "audit.jsonl")

    audit.record("promote", actor="user:test", reason=f"asked by {text}", details={"who": [text]})

    written = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert secret not in written
    entry = json.loads(written)
    assert placeholder in entry["reason"] and placeholder in entry["details"]["who"][0]
