"""Finding a word where it stands as a whole word, which rule matching and the money scan both
need, each with its own idea of what a word is made of."""

from __future__ import annotations

from collections.abc import Callable


def is_word_char(ch: str) -> bool:
    """What ``\\w`` matches: letters, digits and the underscore."""
    return ch.isalnum() or ch == "_"


def whole_word_offsets(
    text: str, word: str, inside: Callable[[str], bool] = is_word_char
) -> list[int]:
    """Offsets where ``word`` stands with no ``inside`` character right before or after it.

    ``str.find`` does the scanning: far faster than a regex with lookarounds.
    """
    found = []
    at = text.find(word)
    while at != -1:
        end = at + len(word)
        if (at == 0 or not inside(text[at - 1])) and (end == len(text) or not inside(text[end])):
            found.append(at)
        at = text.find(word, end)
    return found
