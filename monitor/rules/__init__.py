"""Rules: a rules file in, the rules an article fires (each with its evidence) out.

``model`` says what a rules file means; ``load`` reads and validates one, placing every
problem at its line and column (``positions`` reads its YAML, bounded, noting where each
value is written; ``feedlists`` reads the OPML and text feed lists it names); ``live`` keeps
the last valid file in force while ops edit it; ``query`` parses the boolean query language;
``templates`` compiles the rules' alert templates in a bounded language; ``channels`` asks
apprise what is secret in a channel URL; ``terms`` finds every term of every rule in one pass
over an article; ``match`` decides which rules fire and why; ``cases`` runs a rules file's
unit tests.
"""
