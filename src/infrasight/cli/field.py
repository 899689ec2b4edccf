"""Field commands: ``infrasight mqtt run`` (the broker bridge) and ``infrasight edge``."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from infrasight.cli.common import console, exits_cleanly, load_settings
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
        console.print(f"MQTT ingest on {platform.settings.mqtt_url}")
    else:
        console.print("[yellow]MQTT broker not reachable yet; retrying in the background[/yellow]")
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
            console.print(f"MQTT bridge subscribed on {broker}")
        else:
            console.print(f"[yellow]broker {broker} not reachable yet; retrying[/yellow]")
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
    from infrasight.edge.agent import EdgeAgent
    from infrasight.edge.config import load_config
    from infrasight.edge.local_http import LocalEndpoint

    settings = load_config(config)
    agent = EdgeAgent(settings)
    endpoint = None
    if settings.listen_port is not None:
        endpoint = LocalEndpoint(agent, settings.listen_host, settings.listen_port)
        endpoint.start()
        console.print(f"local endpoint on http://{settings.listen_host}:{endpoint.port}")
    agent.start()
    console.print(f"edge agent forwarding {settings.queue_path} to {settings.server_url}")
    typer.echo(orjson.dumps({"local_port": endpoint.port if endpoint else None}).decode())
    try:
        _wait_for_signal()
    finally:
        if endpoint is not None:
            endpoint.stop()
        agent.stop()


@edge_app.command("status")
@exits_cleanly
def edge_status(config: ConfigOption) -> None:
    """Queue depth, oldest item, drops and disk free, read from the queue file (JSON)."""
    import shutil
    from dataclasses import asdict

    from infrasight.edge.config import load_config
    from infrasight.edge.queue import EdgeQueue

    settings = load_config(config)
    if not settings.queue_path.exists():
        raise InvalidInputError(f"no queue at {settings.queue_path}", field="queue_path")
    queue = EdgeQueue(settings.queue_path)
    try:
        stats = asdict(queue.stats())
    finally:
        queue.close()
    stats["disk_free_bytes"] = shutil.disk_usage(settings.queue_path.resolve().parent).free
    typer.echo(orjson.dumps(stats).decode())
