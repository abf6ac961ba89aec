"""The one fetcher for every URL we read, feed or article.

Contract of ``fetch``:

* Only http and https. Every hop's host is resolved and checked by the SSRF guard
  (``monitor.ssrf``) and the connection is made to the checked address, the URL's host kept in
  the ``Host`` header, TLS SNI and the certificate check; redirects are followed here one hop at
  a time, each one checked, at most ``MAX_REDIRECTS``, a loop refused as soon as it closes.
* Deadlines: connect, read (no data for that long, checked every second) and a total deadline for
  the whole response, TLS handshake, headers and body, so a server trickling one byte a second
  is cut at the total deadline.
* A cap on the body read, counted after decompression (gzip, deflate, brotli) as it streams,
  so a compressed bomb stops at the cap; a declared ``Content-Length`` over the cap is refused
  unread. The body of an answer we do not use (an error, a redirect) is not read at all.
* Conditional GET: given the validators of the last response (``Validators``), it sends
  ``If-None-Match`` / ``If-Modified-Since`` and a ``304`` comes back as a ``Fetched`` with
  ``not_modified`` true and no body.
* A User-Agent naming the product and a contact URL. Failures become the errors of
  ``monitor.errors``, transient or permanent, each one line naming the URL.

* Many at once (``fetch_all``, ``monitor.fetch.many``): hundreds of requests in flight in one
  thread, at most ``MONITOR_PER_HOST_CONCURRENCY`` to one host, among every process sharing
  the store when given its ``HostSlots`` (``monitor.fetch.slots``). ``fetch`` is one of them.

Built on libcurl (pycurl) and its multi interface, which keeps the connect and total deadlines
itself, TLS handshake included. ``client`` holds the handles and the connections they share,
``transfer`` one request on one handle, ``response`` what we make of an answer.
"""

from monitor.fetch.client import Client, make_client
from monitor.fetch.many import MAX_REDIRECTS, Outcome, Request, fetch, fetch_all, host_of
from monitor.fetch.response import Fetched, Validators, guess_charset
from monitor.fetch.slots import HostSlots

__all__ = [
    "MAX_REDIRECTS",
    "Client",
    "Fetched",
    "HostSlots",
    "Outcome",
    "Request",
    "Validators",
    "fetch",
    "fetch_all",
    "guess_charset",
    "host_of",
    "make_client",
]
