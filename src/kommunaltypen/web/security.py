"""Security headers sent with every response (API, pages, static files and errors alike)."""

from __future__ import annotations

#: strict policy: only this origin, no inline script or style, no framing
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)

#: raw ASGI header pairs, encoded once
RAW_SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = tuple(
    (k.encode("latin-1"), v.encode("latin-1")) for k, v in SECURITY_HEADERS
)

#: API responses may carry private tokens: never cached by browsers or proxies
RAW_NO_STORE = (b"cache-control", b"no-store")
