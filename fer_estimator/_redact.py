"""Passwords hidden from what is shown: error messages and tracebacks quote storage URLs
(``postgresql://user:password@host/db``). Imports nothing heavy, so that any command, on any
install, reports its errors through it."""

import re

# The password of a URL's user:password@ part, wherever a URL appears in a text.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^\s/]*@")


def redact_urls(text):
    """Hide the password of every ``scheme://user:password@`` URL in ``text`` (as ``***``).

    Works on malformed URLs too, and on messages that quote a URL (a driver's error).
    """
    return _URL_PASSWORD.sub(r"\g<head>***@", str(text))
