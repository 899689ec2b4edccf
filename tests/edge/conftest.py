"""The live server behind a link the tests can cut."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infrasight.platform import Platform
from tests.edge.netfaults import LiveServer, TcpProxy


@pytest.fixture
def link(platform: Platform) -> Iterator[TcpProxy]:
    """The API served on a real port, reached through a TCP proxy that can cut the link."""
    server = LiveServer(platform)
    server.start()
    proxy = TcpProxy(server.port)
    yield proxy
    proxy.close()
    server.stop()
