"""A uvicorn server that reports its real port once it listens (shared by the API and the cubes servers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn


class ReadyServer(uvicorn.Server):
    """uvicorn's server, calling ``on_ready(port)`` once it listens (the real port when 0 was asked)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[int], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: Any = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            self.on_ready(self.servers[0].sockets[0].getsockname()[1])
