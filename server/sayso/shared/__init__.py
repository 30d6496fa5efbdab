"""Code every part of Sayso shares, importing nothing else from Sayso: sealing and keys
(``crypto``), how secrets are stored (``tokens``), the clock (``clock``), and the error
helpers of forms (``forms``). Anything may import from here; this imports nothing back."""
