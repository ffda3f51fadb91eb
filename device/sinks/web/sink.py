"""The web view as a sink: the loop hands it each result, and its HTTP server shows them (started here)."""

from __future__ import annotations

import threading
from typing import Optional

from piclassify.device.core.sink import Delivery
from piclassify.device.sinks.web.routes import ROUTES
from piclassify.device.sinks.web.server import WebServer
from piclassify.device.sinks.web.state import WebState, WebView


class WebSink:
    """The sink the loop hands results to, and the HTTP server that shows them (started here, stopped by ``close``).

    A model switch (a reload, a fit from the teach panel) keeps it: ``show`` hands it the new model's view, and the
    server, its connections and its page clients carry on; the page follows the new model in its status.
    """

    name = "web view"

    def __init__(self, view: WebView, host: str = "127.0.0.1", port: int = 8080, token: Optional[str] = None,
                 max_streams: int = 4, stream_fps: float = 5.0) -> None:
        self.settings = (host, port, token, max_streams, stream_fps)  # what a reload must keep for it to stay
        self.state = WebState(view)
        self.server = WebServer(self.state, ROUTES, host, port, token, max_streams, stream_fps)
        self.is_open = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="piclassify-web", daemon=True)
        self._thread.start()

    def show(self, view: WebView) -> None:
        """Serve ``view`` (the model the service now runs) from now on, to the clients already here too."""
        self.state.view = view

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def handle(self, delivery: Delivery) -> None:
        self.state.handle(delivery)

    def wants_model_input(self) -> bool:
        return self.state.wants_model_input()

    def close(self) -> None:
        self.is_open = False
        self.state.close()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
