"""Design: the studio's vocabulary of a character, as plain data without I/O.

Owns `Features` (what a character looks like and must keep), the expression library (built-in
expressions, presets, mouth-open and blink variants) and `FaceBox`, the one type and validator of the
face region. Below the renderer and the score because both speak this vocabulary. May import `lib.core`.
"""
