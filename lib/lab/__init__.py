"""Lab: tools for prompt engineers and for calibrating the score, used from the notebooks.

`prompt_trials` runs candidate prompt templates side by side without writing jobs; `calibration`
builds a labelled set of (base, result) pairs with the offline renderer, `real_artwork` another from the
artists' sprites in `../shared/real-dev/`. May import `lib.catalog`,
`lib.accounts`, `lib.consistency`, `lib.backends` and the layers below.
"""
