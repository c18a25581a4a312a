"""Catalog: a user's characters and what they can be asked to do.

Owns characters (name, features, approved base, face box and where it came from), "Describe with
Gemini" and the record of its cost (`describing`), the expressions a user adds to one
character, and the versioned prompt templates that turn features and an expression into a
"baseline plus delta" prompt. May import `lib.accounts`, `lib.credits` and the layers below.
"""
