"""``rekam tui``: its arguments and its runner, kept here so ``rekam/cli.py`` only wires the
kit and its devices (the bootstrap's job) and hands them over. Nothing here imports Textual
until the app runs, so the rest of the ``rekam`` command line stays quick to start."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import InvalidInput

if TYPE_CHECKING:
    from tui.services import KitServices

KEYMAP_FILE = "tui-keymap.json"
"""Optional, in the kit's home: ``{"binding id": "keys"}``, e.g. ``{"capture": "space"}``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sim", action="store_true",
                        help="simulated devices (demos, training); marked SIMULASI on screen")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated devices")
    parser.add_argument("--language", choices=["id", "en"],
                        help="start in this language (default: the kit's config)")
    parser.add_argument("--theme", help="Textual theme (default: ansi-dark on the Linux "
                        "console, else textual-dark)")


def load_keymap(home: Path) -> dict[str, str]:
    path = home / KEYMAP_FILE
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InvalidInput(f"{path} must map binding ids to keys, like {{\"capture\": \"space\"}}")
    return {str(k): v for k, v in data.items()}


def run_app(services: KitServices, args: argparse.Namespace) -> int:
    """Run the UI on the services the bootstrap wired (:func:`rekam.bootstrap.ui_services`);
    the devices open in a worker once the login screen is up and close when the app ends."""
    import logging

    from tui.app import RekamApp
    from tui.memory import limit_arenas

    limit_arenas()  # before the first worker thread

    # Diagnostics (the sync code's, say) go to a file: stderr is the operator's screen.
    logging.basicConfig(filename=str(services.kit.paths.root / "tui.log"), level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    kit = services.kit
    app = RekamApp(services, language=args.language, theme=args.theme,
                   keymap=load_keymap(kit.paths.root))
    app.run()
    return 0
