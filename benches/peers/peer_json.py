"""The one JSON writer of the peer scripts: results land atomically (temp file + rename)."""

import json
import os
import tempfile


def write_json_atomically(path, value):
    """Writes `value` to a temp file beside `path`, then renames it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)
