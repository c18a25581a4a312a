"""`python -m devtools …`: test support on the command line, never part of the studio.

The studio's own command line is `python -m lib`; nothing in `lib/` imports `devtools`.

    python -m devtools standin --port 8765 [--latency 2 --ipm 10 --fault-429 0.1 …]   local Gemini stand-in
    python -m devtools face-sheet OUT_DIR [FOLDER …]   contact sheets of face finding and previews on real art
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from devtools import face_sheet, gemini_standin

# Each command parses its own options (`python -m devtools standin --help`).
COMMANDS: dict[str, Callable[[list[str]], int]] = {"standin": gemini_standin.main, "face-sheet": face_sheet.main}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=COMMANDS,
                        help="standin: serve the local Gemini stand-in; face-sheet: contact sheets of faces")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the command's own options")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return COMMANDS[args.command](args.options)


if __name__ == "__main__":
    sys.exit(main())
