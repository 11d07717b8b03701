"""How a person runs this same `firebreak` again, for the commands Firebreak prints.

After `pip install` into a virtual environment that is not activated, `firebreak` is not on
PATH: a printed `firebreak approve …` would fail when pasted, so name the script by its path.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys


def firebreak_command() -> str:
    running = sys.argv[0] if sys.argv else ""
    if os.path.basename(running) != "firebreak":
        return "firebreak"
    on_path = shutil.which("firebreak")
    if on_path and os.path.samefile(on_path, running):
        return "firebreak"
    return shlex.quote(os.path.abspath(running))
