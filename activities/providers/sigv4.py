"""AWS Signature Version 4 as an `httpx.Auth`, so S3-compatible stores need no boto3.

boto3 would add ~100 MB and a synchronous client to a worker that only needs six S3 calls;
the signing algorithm is small and stable (AWS General Reference, "Signature Version 4").
The body is hashed into `x-amz-content-sha256`, which S3 requires on every request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Generator
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import httpx

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


class SigV4Auth(httpx.Auth):
    requires_request_body = True

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        region: str,
        service: str = "s3",
        clock: type[datetime] = datetime,
    ) -> None:
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._service = service
        self._clock = clock

    def __repr__(self) -> str:
        return f"SigV4Auth(region={self._region!r}, service={self._service!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        now = self._clock.now(UTC)
        stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        request.headers["x-amz-date"] = stamp
        request.headers["x-amz-content-sha256"] = hashlib.sha256(request.content).hexdigest()
        signed = sorted(
            name
            for name in (k.lower() for k in request.headers)
            if name in ("host", "content-type", "content-md5") or name.startswith("x-amz-")
        )
        canonical_headers = "".join(
            f"{name}:{' '.join(request.headers[name].split())}\n" for name in signed
        )
        query = "&".join(
            f"{_encode(k)}={_encode(v)}" for k, v in sorted(request.url.params.multi_items())
        )
        canonical = "\n".join(
            [
                request.method,
                quote(unquote(request.url.raw_path.split(b"?")[0].decode()), safe="/-_.~"),
                query,
                canonical_headers,
                ";".join(signed),
                request.headers["x-amz-content-sha256"],
            ]
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = "\n".join(
            [ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        key = _hmac(f"AWS4{self._secret_key}".encode(), day)
        for part in (self._region, self._service, "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        request.headers["authorization"] = (
            f"{ALGORITHM} Credential={self._access_key}/{scope}, "
            f"SignedHeaders={';'.join(signed)}, Signature={signature}"
        )
