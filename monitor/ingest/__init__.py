"""Ingest: feeds in, new entries out.

Takes the feeds of the rules file; gives the entries not seen before, claimed in the store and
queued as article ids. ``polling`` polls a feed (a conditional GET through ``monitor.fetch``) and
a batch of feeds at once; ``feeds`` parses one (feedparser on our bytes; canonical URLs);
``schedule`` says when to poll it next (interval, backoff, the publisher's hints, jitter);
``health`` keeps each feed's record and reports the feeds failing too long.
"""
