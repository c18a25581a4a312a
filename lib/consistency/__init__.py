"""Consistency: what happens to every generated image before anyone sees it, and how good it is.

Owns face finding on uploads (`face_finder`: the anime-face detector shipped in `animeface/`, the face
box, eyes and mouth, and whether a person must confirm them), the colours read from a picture
(`picture_features`), the face region read from results (`face_region`), alignment of a model's
redraw onto the base (`align`), pasting the new face back so everything else stays the base
(`composite`), the 0-100 consistency score (`score`, judging the face part by part in `face_judge` over
the zones of `face_parts`), the words for it (`wording`) and the pipeline step that runs them in order
(`postprocess`). Pure image code: settings arrive as parameters. May import `lib.render`, `lib.design` and
`lib.core`.
"""
