"""Alerts: fired rules in, one message at each of the analysts' targets out.

``make`` makes one alert per (rule, article, target); ``digest`` holds alerts back for a
rule's cooldown or digest; ``render`` writes the message for the channel's kind (email, chat,
text); ``send`` hands it to apprise with its idempotency key; ``delivery`` keeps the ledger
(sent once, retried with backoff, dead-lettered); ``secrets`` keeps tokens out of logs.
"""
