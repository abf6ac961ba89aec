"""Text: a fetched page in, the article's text out; and the one way every text is read.

``extract`` turns a page, or a feed's summary, into an ``Article`` (title, body, language,
published time); ``normalize`` folds text for matching (case, Unicode forms, Arabic letter
forms and diacritics, digits) with offsets back to the original; ``words`` cuts folded text
into words; ``inflect`` knows the endings and proclitics a word takes; ``neardup``
fingerprints bodies so syndicated copies are known as such.
"""
