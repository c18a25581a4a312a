"""Miyabi Character Studio: the shared library behind the studio pages, the API, the CLI, workers and notebooks.

Packages by concern, in layers; a package imports only from the layers below it (`.importlinter`
holds the contracts, `make test` checks them):

    faces        cli · web (the only Streamlit importer) · api · worker
    domain       lab · reports · billing · exports  >  generation  >  catalog  >  accounts  >  credits
    image work   consistency · backends
    rendering    render (the offline renderer)
    vocabulary   design (features, the expression library, the face box)
    core         settings · errors · db · migrations · named queries · storage · images

Test support (the Gemini and Stripe stand-ins, seeders, sample sets) lives in `devtools/`, outside lib.
"""
