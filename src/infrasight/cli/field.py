"""Field commands: ``infrasight mqtt run`` (the broker bridge) and ``infrasight edge``."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from infrasight.cli.common import console, exits_cleanly, load_settings
from infrasight.core.errors import InvalidInputError
from infrasight.platform import Platform

mqtt_app = typer.Typer(help="MQTT ingest through a broker.", no_args_is_help=True)
edge_app = typer.Typer(help="The agent of a field terminal.", no_args_is_help=True)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


@mqtt_app.command("run")
@exits_cleanly
def mqtt_run(
    url: Annotated[
        str | None,
        typer.Option(help="Broker mqtt://[user:pw@]host[:port]; default INFRASIGHT_MQTT_URL"),
    ] = None,
    client_id: Annotated[str, typer.Option(help="Stable MQTT client id")] = "infrasight-bridge",
) -> None:
    """Store device readings published on infrasight/<org>/<device>/readings until stopped."""
    from infrasight.mqtt.bridge import MqttBridge

    settings = load_settings()
    broker = url or settings.mqtt_url
    if not broker:
        raise InvalidInputError("give --url or set INFRASIGHT_MQTT_URL", field="url")
    platform = Platform.create(settings)
    try:
        bridge = MqttBridge(platform, broker, client_id=client_id)
        if bridge.start():
            console.print(f"MQTT bridge subscribed on {broker}")
        else:
            console.print(f"[yellow]broker {broker} not reachable yet; retrying[/yellow]")
        _wait_for_signal()
        bridge.stop()
    finally:
        platform.close()
