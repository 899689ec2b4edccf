"""Field commands: ``infrasight mqtt run`` (the broker bridge) and ``infrasight edge``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from infrasight.cli.common import console, exits_cleanly, load_settings
from infrasight.cli.i18n import say
from infrasight.core.errors import InvalidInputError
from infrasight.platform import Platform

if TYPE_CHECKING:
    from infrasight.mqtt.bridge import MqttBridge

mqtt_app = typer.Typer(help="MQTT ingest through a broker.", no_args_is_help=True)
edge_app = typer.Typer(help="The agent of a field terminal.", no_args_is_help=True)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def start_bridge(platform: Platform) -> MqttBridge | None:
    """Start the MQTT bridge inside ``infrasight serve`` when INFRASIGHT_MQTT_URL is set."""
    if not platform.settings.mqtt_url:
        return None
    from infrasight.mqtt.bridge import MqttBridge

    bridge = MqttBridge(platform, platform.settings.mqtt_url)
    if bridge.start():
        console.print(say("MQTT ingest on {url}", url=platform.settings.mqtt_url))
    else:
        console.print(
            f"[yellow]{say('MQTT broker not reachable yet; retrying in the background')}[/yellow]"
        )
    return bridge


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
            console.print(say("MQTT bridge subscribed on {broker}", broker=broker))
        else:
            waiting = say("broker {broker} not reachable yet; retrying", broker=broker)
            console.print(f"[yellow]{waiting}[/yellow]")
        _wait_for_signal()
        bridge.stop()
    finally:
        platform.close()


ConfigOption = Annotated[
    Path, typer.Option("--config", help="The agent's TOML configuration", exists=True)
]


@edge_app.command("run")
@exits_cleanly
def edge_run(config: ConfigOption) -> None:
    """Run the store-and-forward agent of a terminal until SIGTERM/SIGINT."""
    from infrasight.edge.runner import run_agent

    console.print(say("edge agent of {config} running (stop: Ctrl-C or SIGTERM)", config=config))
    run_agent(config)


@edge_app.command("status")
@exits_cleanly
def edge_status(config: ConfigOption) -> None:
    """Queue depth, oldest item, drops, disk free and camera status (JSON)."""
    from infrasight.edge.runner import queue_status

    typer.echo(orjson.dumps(queue_status(config)).decode())
