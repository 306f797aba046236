#!/usr/bin/env python3
"""Writes herald.global.js, the plain-<script> form of the ES module
herald.js: the same code without `export`, wrapped so that it defines
`window.Herald = { HeraldClient, decodeBinaryEnvelope }` (and the same on
`globalThis`). Run after editing herald.js; Tests/e2e/test_clients.py fails
when the committed file is out of date.

    python3 Clients/js/make-global.py
"""
from pathlib import Path

HERE = Path(__file__).resolve().parent


def render() -> str:
    source = (HERE / "herald.js").read_text()
    body = source.replace("export class ", "class ").replace("export function ", "function ")
    assert "export " not in body, "herald.js exports something make-global.py does not know"
    indented = "".join(("  " + line) if line.strip() else line for line in body.splitlines(True))
    return ("// GENERATED from herald.js by make-global.py: do not edit. A plain <script>:\n"
            "//   <script src=\"herald.global.js\"></script>\n"
            "//   const client = new Herald.HeraldClient(\"wss://…/ws\", { onMessage: … });\n"
            "(function (global) {\n"
            "  \"use strict\";\n"
            + indented +
            "  global.Herald = { HeraldClient, decodeBinaryEnvelope };\n"
            "})(typeof globalThis !== \"undefined\" ? globalThis : this);\n")


if __name__ == "__main__":
    (HERE / "herald.global.js").write_text(render())
