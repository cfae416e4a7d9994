"""One self-contained HTML file: the page, its style, dagre and the viewer script
inline, and each pane's data as a JSON script block.

Nothing is fetched when the file is opened: a Content-Security-Policy of
`default-src 'none'` (inline scripts and styles only) makes the browser refuse
any request the page might try, and the icon is a data URL.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from string import Template


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _json_block(element_id: str, payload: dict) -> str:
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    # a "<" in a string ("</script", "<!--" from a spec's name) could end the block
    # early; "\u003c" is the same JSON string and never markup
    text = text.replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def page(title: str, payloads: list[dict], summary: str = "") -> str:
    """The HTML text: one pane per payload (two for a comparison), side by side."""
    panes, blocks = [], []
    for k, payload in enumerate(payloads):
        side = "ab"[k] if len(payloads) == 2 else "one"
        panes.append(f'<div class="pane pane-{side}" data-src="linkc-data-{k}"></div>')
        blocks.append(_json_block(f"linkc-data-{k}", payload))
    return Template(_asset("page.html")).substitute(
        TITLE=html.escape(title), CSS=_asset("viewer.css"), SUMMARY=summary,
        PANES="\n".join(panes), DATA="\n".join(blocks),
        DAGRE=_asset("vendor/dagre.min.js"), COMMON=_asset("common.js"),
        LAYOUT=_asset("layout.js"), PANEL=_asset("panel.js"), VIEWER=_asset("viewer.js"))
