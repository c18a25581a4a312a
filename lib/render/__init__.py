"""The offline renderer: anime-style bust portraits drawn from `Features`, with no model needed.

Owns the procedural drawing of a character (colours, design-space geometry, a supersampled canvas, the
body, hair and accessories), the face model that turns an expression and a variant into cues (brows,
eyes, mouth, blush, tears, sweat, marks), the portrait itself (`portrait.render_portrait` and
`portrait.face_box`) and offline previews on uploaded pictures (`preview.edit_face`).

May import `lib.design` and `lib.core` only, plus Pillow and numpy. Inside the package, modules import
downwards only: colour, geometry → canvas → body, face → hair, accessories, eyes, mouths, marks →
portrait, preview.
"""
