"""Write the JSON Schema of the spec language (for yaml-language-server and other editors).

Point an editor at it with a first line `# yaml-language-server: $schema=FILE` in a
spec, or in the editor's settings; see docs/editor.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")


def run(args) -> int:
    from ..spec.jsonschema import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
