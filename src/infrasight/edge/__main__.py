"""``python -m infrasight.edge run|status --config FILE``: the agent without the server's CLI."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import orjson

from infrasight.core.errors import InvalidInputError
from infrasight.edge.runner import queue_status, run_agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrasight.edge", description=__doc__)
    parser.add_argument("command", choices=["run", "status"])
    parser.add_argument("--config", type=Path, required=True, help="the agent's TOML file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        if args.command == "run":
            run_agent(args.config)
        else:
            sys.stdout.write(orjson.dumps(queue_status(args.config)).decode() + "\n")
    except InvalidInputError as err:
        sys.stderr.write(f"error: {err}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
