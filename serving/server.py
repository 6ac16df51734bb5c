"""Running the API under uvicorn: `python -m serving.server --port 8000 --workers 2` (what `gridsense
serve` and the load benchmark do). Nothing runs at import.

Why not plain `uvicorn serving.main:create_app`: with `--workers N > 1`, uvicorn binds the shared socket
as `socket.socket(AF_INET)` (protocol 0), so asyncio does not set TCP_NODELAY on accepted connections.
A response written in two parts (headers, body) then waits for the client's delayed ACK: ~40 ms per
request (measured 44 ms p50 at concurrency 1 with 2 workers, 0.6 ms with 1). The protocol class below
sets TCP_NODELAY on every connection.
"""

from __future__ import annotations

import argparse
import asyncio
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol

HTTP_PROTOCOL = "serving.server:NoDelayHTTPProtocol"


class NoDelayHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    import uvicorn

    from serving.logs import uvicorn_log_config
    from serving.settings import Settings

    settings = Settings()
    uvicorn.run(
        "serving.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=HTTP_PROTOCOL,
        log_config=uvicorn_log_config(settings.log_level, settings.log_format),
        access_log=False,  # the app writes its own access log, with the request id and route
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the GridSense API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    run(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()
