"""The staff command line, `python -m lib …`: one module per command group, each a thin layer over lib calls.

`main` builds the parser and runs one command; every group module (`db`, `users`, `characters`, `generate`,
`credits`, `jobs`, `exports`, `score`, `worker`, `billing`, `reports`, `run`) exposes `register(subparsers, leaf)`
and imports only `_common` (printing, the acting user, files) from this package, never another group.

It may import any lib package below the faces, plus `lib.worker` and `lib.api` to serve them. It never
imports Streamlit (`lib.web`) or `devtools` (the Gemini stand-in is `python -m devtools standin`).
"""
