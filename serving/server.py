"""Running the API under uvicorn: `python -m serving.server --port 8000 --workers 2` (what `gridsense
serve` and the load benchmark do). Nothing runs at import.

Why not plain `uvicorn serving.main:create_app`: the protocol class of `serving.protocol` sets
TCP_NODELAY with several workers, closes clients that are slow to send their request head, and answers
malformed requests in the API's JSON error envelope. WebSockets are off: the API has none, and an
upgrade request is then an ordinary request (404 in the envelope).
"""

from __future__ import annotations

import argparse
import os

HTTP_PROTOCOL = "serving.protocol:GridSenseHTTPProtocol"
TIMEOUT_ENV = {
    "header_timeout": "GRIDSENSE_HEADER_TIMEOUT_SECONDS",
    "body_timeout": "GRIDSENSE_BODY_TIMEOUT_SECONDS",
}


def run(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    header_timeout: float | None = None,
    body_timeout: float | None = None,
) -> None:
    """`header_timeout` / `body_timeout` override the GRIDSENSE_* settings; they are passed on through the
    environment, which the worker processes read their settings from."""
    import uvicorn

    from core.settings import Settings
    from serving.logs import uvicorn_log_config

    for name, value in (("header_timeout", header_timeout), ("body_timeout", body_timeout)):
        if value is not None:
            os.environ[TIMEOUT_ENV[name]] = str(value)
    settings = Settings()
    uvicorn.run(
        "serving.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HTTP_PROTOCOL,
        ws="none",
        log_config=uvicorn_log_config(settings.log_level, settings.log_format),
        access_log=False,  # the app writes its own access log, with the request id and route
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the GridSense API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--header-timeout", type=float, help="seconds (GRIDSENSE_HEADER_TIMEOUT_SECONDS)")
    parser.add_argument("--body-timeout", type=float, help="seconds (GRIDSENSE_BODY_TIMEOUT_SECONDS)")
    args = parser.parse_args(argv)
    run(args.host, args.port, args.workers, args.header_timeout, args.body_timeout)


if __name__ == "__main__":
    main()
