"""A protocol-faithful fake of the Z-Image Turbo provider (OpenAI Images protocol), for tests and benchmarks.

It validates requests as docs/provider-api.md describes, draws cheap deterministic PNGs, serves them from
signed-looking URLs, and misbehaves on demand: a prompt containing `[fault:NAME]` or `[fault:NAME:ARG]` picks a
failure (see FAULTS). Standard library and Pillow only.

    python -m tests.fake_provider --port 8765 --latency 2 --api-key test-key
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import io
import json
import random
import re
import secrets
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

MODEL = "z-image-turbo"
# Another model of the same account, as the provider's Qwen Image models: it takes a negative prompt and a watermark
# switch, and both prompt extend and the watermark default to on. What each model accepts in `parameters`:
SECOND_MODEL = "qwen-image-plus"
ACCEPTED_PARAMETERS = {
    MODEL: {"prompt_extend", "seed"},
    SECOND_MODEL: {"prompt_extend", "seed", "negative_prompt", "watermark"},
}
DEFAULT_SIZE = "1024x1536"
MIN_PIXELS, MAX_PIXELS = 512 * 512, 2048 * 2048
MAX_SEED = 2_147_483_647
TIMEOUT_FAULT_S = 30.0
OVERSIZED_BYTES = 64 * 1024 * 1024
STREAM_CHUNK_BYTES = 256 * 1024
NOT_AN_IMAGE = b"<html><body>this is not an image, whatever the content-type says</body></html>\n"
UNSAFE_TEXT = '<script>alert("x")</script> <img src=x onerror=alert(1)>'
EXPIRED_URL_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired.</Message><RequestId>fake</RequestId></Error>\n"
)
BAD_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"<hr><center>nginx</center></body></html>\n"
)
FAULT_PATTERN = re.compile(r"\[fault:([a-z0-9-]+)(?::([^\]]*))?\]")
STATUS_FAULTS = {"500", "502", "503", "504", "429", "401", "403", "400"}
REPLY_FAULTS = {"garbage", "empty-data", "no-url", "bad-b64", "unsafe-text"}
URL_FAULTS = {"expired-url", "not-image", "oversized", "oversized-nolength"}
FAULTS = STATUS_FAULTS | REPLY_FAULTS | URL_FAULTS | {"slow", "timeout", "html", "flaky"}
ERRORS = {
    400: ("invalid_request_error", "data_inspection_failed", "Input data may contain inappropriate content."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "access_denied", "You are not allowed to use this model."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", "internal_error", "The server had an error while processing your request."),
    502: ("server_error", "bad_gateway", "Bad gateway."),
    503: (
        "server_error",
        "service_unavailable",
        "The engine is currently overloaded, please try again later.",
    ),
    504: ("server_error", "gateway_timeout", "The upstream model did not answer in time."),
}


class FakeProvider:
    """An in-process HTTP server speaking the provider's protocol; `with FakeProvider() as fake: fake.base_url`."""

    def __init__(
        self,
        api_key: str = "test-key",
        latency_s: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        image_padding_bytes: int = 0,
    ) -> None:
        self.api_key = api_key
        self.latency_s = latency_s
        self.image_padding_bytes = image_padding_bytes
        self.image_variant = ""
        self.host = host
        self.port = port
        self.requests: list[dict] = []
        self.files: dict[str, bytes] = {}
        # Generation requests being answered right now, and the most there ever were at once.
        self.in_flight = 0
        self.max_in_flight = 0
        self.bytes_streamed = 0  # of oversized images, before the client hung up
        self._era = 0
        self._flaky_counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def start(self) -> FakeProvider:
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; handlers still sleeping (latency, slow, timeout) wake up and leave at once."""
        self._stopping.set()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def record(self, body: dict) -> None:
        with self._lock:
            self.requests.append(body)

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Count a generation request as in flight while it is answered (requests of an earlier `reset()` era,
        such as a timeout fault still sleeping, are not counted)."""
        with self._lock:
            era = self._era
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                if era == self._era:
                    self.in_flight -= 1

    def reset(self) -> None:
        """As new: no requests seen or in flight, no latency, the usual key, the usual pictures."""
        with self._lock:
            self._era += 1
            self.requests.clear()
            self.in_flight = self.max_in_flight = self.bytes_streamed = 0
        self.latency_s = 0.0
        self.api_key = "test-key"
        self.image_variant = ""

    def store(self, data: bytes) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            self.files[token] = data
        return token

    def count_flaky(self, prompt: str) -> int:
        """How many requests with this exact prompt came before this one."""
        with self._lock:
            seen = self._flaky_counts.get(prompt, 0)
            self._flaky_counts[prompt] = seen + 1
        return seen

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops meanwhile; True when it is stopping."""
        return self._stopping.wait(seconds) if seconds > 0 else self.stopping


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default listen backlog of 5 drops connections when a benchmark opens 100 at once.
    request_queue_size = 1024
    fake: FakeProvider

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-reply is normal here (timeouts, refused oversized downloads).
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _InvalidRequest(Exception):
    def __init__(self, message: str, *, param: str | None = None, code: str = "invalid_parameter") -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY each reply waits on a delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server_version = "FakeZImage/1.0"
    timeout = 60
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    @property
    def fake(self) -> FakeProvider:
        return self.server.fake

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urlsplit(self.path).path != "/v1/images/generations":
            self._reply_error(404, "invalid_request_error", "not_found", f"No route for POST {self.path}")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.fake.record(body)
        if self.headers.get("Authorization") != f"Bearer {self.fake.api_key}":
            self._reply_error(401, *ERRORS[401])
            return
        if not isinstance(body, dict):
            self._reply_error(400, "invalid_request_error", "invalid_json", "The body is not a JSON object.")
            return
        try:
            width, height = _validate(body)
        except _InvalidRequest as err:
            status = 404 if err.code == "model_not_found" else 400
            self._reply_error(status, "invalid_request_error", err.code, err.message, param=err.param)
            return
        with self.fake.answering():
            started = time.monotonic()
            # Draw while "the model works": a real provider's latency covers its rendering, so the fake's too.
            self.image = draw_image(
                body["prompt"],
                body.get("parameters", {}).get("seed"),
                width,
                height,
                padding_bytes=self.fake.image_padding_bytes,
                variant=self.fake.image_variant,
            )
            if self.fake.sleep(self.fake.latency_s - (time.monotonic() - started)):
                self.close_connection = True
                return
            self._answer(body, width, height)

    def do_GET(self) -> None:
        parts = urlsplit(self.path).path.split("/")
        match parts:
            case ["", "files", name] if name.endswith(".png") and name[:-4] in self.fake.files:
                self._reply(200, self.fake.files[name[:-4]], "image/png")
            case ["", "faults", "expired-url", _]:
                self._reply(403, EXPIRED_URL_BODY, "application/xml")
            case ["", "faults", "not-image", _]:
                self._reply(200, NOT_AN_IMAGE, "image/png")
            case ["", "faults", "oversized", _]:
                self._stream(OVERSIZED_BYTES, chunked=False)
            case ["", "faults", "oversized-nolength", _]:
                self._stream(OVERSIZED_BYTES, chunked=True)
            case _:
                self._reply(404, b"Not Found\n", "text/plain")

    def _answer(self, body: dict, width: int, height: int) -> None:
        prompt: str = body["prompt"]
        try:
            fault, arg = self._fault(prompt)
        except _InvalidRequest as err:
            self._reply_error(400, "invalid_request_error", err.code, err.message, param=err.param)
            return
        if fault == "slow" and self.fake.sleep(float(arg or 1)):
            self.close_connection = True
            return
        if fault == "timeout":
            self.fake.sleep(TIMEOUT_FAULT_S)
            self.close_connection = True
            return
        if fault in STATUS_FAULTS:
            status = int(fault)
            headers = {"Retry-After": arg or "1"} if status == 429 else {}
            self._reply_error(status, *ERRORS[status], headers=headers)
            return
        if fault == "html":
            self._reply(502, BAD_GATEWAY_HTML, "text/html")
            return
        if fault == "garbage":
            self._reply(200, b"<<this is not json>>", "application/json")
            return

        created = int(time.time())
        item: dict[str, str] = {}
        if fault == "empty-data":
            self._reply_json(200, {"created": created, "data": []})
            return
        if fault == "bad-b64":
            item["b64_json"] = "this is !!! not base64 ***"
        elif fault in URL_FAULTS:
            item["url"] = self._signed_url(f"/faults/{fault}/{secrets.token_urlsafe(16)}.png")
        elif fault != "no-url":
            png = self.image
            if body.get("response_format") == "b64_json":
                item["b64_json"] = base64.b64encode(png).decode("ascii")
            else:
                item["url"] = self._signed_url(f"/files/{self.fake.store(png)}.png")
        if fault == "unsafe-text":
            item["revised_prompt"] = f"{prompt} {UNSAFE_TEXT}"
            item["reasoning_content"] = f"Thinking about {UNSAFE_TEXT} and {prompt}."
        elif body.get("parameters", {}).get("prompt_extend"):
            item["revised_prompt"], item["reasoning_content"] = _extend(prompt)
        self._reply_json(200, {"created": created, "data": [item]})

    def _fault(self, prompt: str) -> tuple[str, str | None]:
        """The fault the prompt asks for and its argument; ("", None) for none. A flaky fault resolves here
        to its status while its count lasts, then to none."""
        match = FAULT_PATTERN.search(prompt)
        if match is None:
            return "", None
        fault, arg = match.groups()
        if fault == "flaky":
            status, _, count = (arg or "").partition(":")
            if not (status.isdigit() and int(status) in ERRORS and count.isdigit()):
                raise _InvalidRequest(
                    f"Use [fault:flaky:STATUS:N] with STATUS in {sorted(ERRORS)}.",
                    param="prompt",
                    code="unknown_fault",
                )
            return (status if self.fake.count_flaky(prompt) < int(count) else ""), None
        if fault not in FAULTS:
            raise _InvalidRequest(f"Unknown fault {fault!r}.", param="prompt", code="unknown_fault")
        if arg is not None and (fault not in ("slow", "429") or not re.fullmatch(r"\d+(\.\d+)?", arg)):
            raise _InvalidRequest(
                f"Bad argument {arg!r} for fault {fault!r}.", param="prompt", code="unknown_fault"
            )
        return fault, arg

    def _signed_url(self, path: str) -> str:
        expires = int(time.time()) + 3600
        return f"{self.fake.origin}{path}?Expires={expires}&OSSAccessKeyId=fake&Signature={uuid.uuid4().hex}"

    def _reply_error(
        self,
        status: int,
        error_type: str,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": error_type, "param": param, "code": code}
        self._reply_json(status, {"error": error}, headers=headers)

    def _reply_json(self, status: int, payload: dict, *, headers: dict[str, str] | None = None) -> None:
        self._reply(status, json.dumps(payload).encode(), "application/json", headers=headers)

    def _reply(
        self, status: int, body: bytes, content_type: str, *, headers: dict[str, str] | None = None
    ) -> None:
        self._start(status, content_type, {"Content-Length": str(len(body)), **(headers or {})})
        self.wfile.write(body)

    def _start(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-request-id", uuid.uuid4().hex)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _stream(self, size: int, *, chunked: bool) -> None:
        """Send `size` bytes in chunks, stopping quietly when the client hangs up or the server stops."""
        headers = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(size)}
        self._start(200, "image/png", headers)
        try:
            for chunk in _chunks(size):
                if self.fake.stopping:
                    self.close_connection = True
                    return
                self.wfile.write(b"%X\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                self.fake.bytes_streamed += len(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except ConnectionError:
            self.close_connection = True


def _validate(body: dict) -> tuple[int, int]:
    """Check a generation request as the provider does; return the requested width and height."""
    if body.get("model") not in ACCEPTED_PARAMETERS:
        raise _InvalidRequest(
            f"The model `{body.get('model')}` does not exist.", param="model", code="model_not_found"
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise _InvalidRequest("prompt must be a non-empty string.", param="prompt")
    size = body.get("size", DEFAULT_SIZE)
    match = re.fullmatch(r"(\d{1,5})x(\d{1,5})", size) if isinstance(size, str) else None
    if match is None or not MIN_PIXELS <= int(match[1]) * int(match[2]) <= MAX_PIXELS:
        raise _InvalidRequest(
            f"size must be WIDTHxHEIGHT with {MIN_PIXELS} to {MAX_PIXELS} pixels, got {size!r}.",
            param="size",
            code="invalid_size",
        )
    if "n" in body and (type(body["n"]) is not int or body["n"] != 1):
        raise _InvalidRequest("n must be 1 for this model.", param="n")
    if body.get("response_format", "url") not in ("url", "b64_json"):
        raise _InvalidRequest("response_format must be 'url' or 'b64_json'.", param="response_format")
    parameters = body.get("parameters", {})
    if not isinstance(parameters, dict):
        raise _InvalidRequest("parameters must be an object.", param="parameters")
    seed = parameters.get("seed", 0)
    if type(seed) is not int or not 0 <= seed <= MAX_SEED:
        raise _InvalidRequest(f"parameters.seed must be an integer in [0, {MAX_SEED}].", param="seed")
    if not isinstance(parameters.get("prompt_extend", False), bool):
        raise _InvalidRequest("parameters.prompt_extend must be a boolean.", param="prompt_extend")
    if unsupported := sorted(set(parameters) - ACCEPTED_PARAMETERS[body["model"]]):
        raise _InvalidRequest(
            f"parameters.{unsupported[0]} is not supported by {body['model']}.", param=unsupported[0]
        )
    return int(match[1]), int(match[2])


def draw_image(
    prompt: str, seed: int | None, width: int, height: int, *, padding_bytes: int = 0, variant: str = ""
) -> bytes:
    """A flat two-colour PNG that depends only on the inputs (a random seed when none is given); another
    `variant` draws other pictures for the same inputs, as a provider that changed its model would.

    A palette image: a tenth of the CPU of an RGB one, which matters when the benchmark's fake shares two cores
    with the playground it measures. `padding_bytes` of incompressible data in a private ancillary chunk (which
    decoders skip) give it the weight of a real model's image at no drawing cost.
    """
    if seed is None:
        seed = random.randrange(MAX_SEED + 1)  # noqa: S311 (pictures, not secrets)
    digest = hashlib.sha256(f"{prompt}\0{seed}\0{variant}".encode()).digest()
    image = Image.new("P", (width, height), 0)
    image.putpalette(digest[0:6])
    left, top = width * digest[6] // 512, height * digest[7] // 512  # within the first half
    ImageDraw.Draw(image).rectangle((left, top, left + width // 2, top + height // 2), fill=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    png = buffer.getvalue()
    if not padding_bytes:
        return png
    end = len(png) - 12  # the IEND chunk
    return b"".join((png[:end], *_padding_chunk(padding_bytes, digest), png[end:]))


def _padding_chunk(size: int, digest: bytes) -> tuple[bytes, ...]:
    """The parts of a private PNG chunk: `size` bytes of noise, then `digest`, which makes each image's bytes its
    own. The noise and its running checksum are made once, so an image costs one copy of them, not three."""
    noise, checksum = _noise(size)
    data_size = (size + len(digest)).to_bytes(4)
    return data_size, PADDING_CHUNK, noise, digest, zlib.crc32(digest, checksum).to_bytes(4)


PADDING_CHUNK = b"zpAd"


@functools.cache
def _noise(size: int) -> tuple[bytes, int]:
    noise = random.Random(size).randbytes(size)  # noqa: S311 (filler, not secrets)
    return noise, zlib.crc32(noise, zlib.crc32(PADDING_CHUNK))


def _extend(prompt: str) -> tuple[str, str]:
    subject = prompt.strip().rstrip(".")
    revised = (
        f"{subject}, rendered in rich detail with soft natural light, a balanced composition, "
        "a shallow depth of field and true-to-life colours."
    )
    reasoning = (
        f'The user asks for "{subject}". The prompt names the subject but not the light or framing, '
        "so I add soft natural light, a balanced composition and a shallow depth of field to make it vivid."
    )
    return revised, reasoning


def _chunks(size: int) -> Iterator[bytes]:
    chunk = b"\0" * STREAM_CHUNK_BYTES
    for start in range(0, size, STREAM_CHUNK_BYTES):
        yield chunk[: size - start]


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the fake Z-Image provider until Ctrl+C.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each generation answer")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--image-padding-kb", type=int, default=0, help="extra weight of each image")
    options = parser.parse_args()
    with FakeProvider(
        api_key=options.api_key,
        latency_s=options.latency,
        host=options.host,
        port=options.port,
        image_padding_bytes=options.image_padding_kb * 1024,
    ) as fake:
        print(
            f"fake provider on {fake.base_url} (api key {fake.api_key!r}, latency {fake.latency_s} s)",
            flush=True,
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopping")


if __name__ == "__main__":
    main()
