"""Code that reproduces a request against the provider (or the playground's own API): curl, Python, JavaScript.

Every snippet is written from the body the provider client itself sends (`provider_request_body`), so "copy as
code" is the exact request a generation sent, and the API tokens page's example is a request the API takes.
"""

from __future__ import annotations

import json

from django.conf import settings

from generations.domain import GenerationParameters
from generations.models import Generation
from generations.provider.client import provider_request_body

# The API tokens page's example: the provider's own example request.
EXAMPLE = GenerationParameters(
    "A cute orange tabby cat basking in sunlight on a windowsill", 1024, 1536, 42, True
)


def generation_request_snippets(*, generation: Generation, base_url: str) -> dict[str, str]:
    """The request `generation` sent, keyed by language. The key is read from the environment in each, never put
    in the page; so is the base URL, unless it is the provider's public endpoint (a gateway's may carry
    credentials). An offline demo image sent nothing: its snippets ask the real model for the same image."""
    model = settings.ZIMAGE_MODEL if generation.is_demo else generation.model
    shown_url = base_url if base_url == settings.ZIMAGE_PUBLIC_BASE_URL else None
    return request_snippets(
        generation.parameters, model=model, base_url=shown_url, key_variable="ZIMAGE_API_KEY"
    )


def api_example_snippets(*, base_url: str) -> dict[str, str]:
    """The API tokens page's example: the provider's own example, sent to the playground with a personal token."""
    return request_snippets(
        EXAMPLE, model=settings.ZIMAGE_MODEL, base_url=base_url, key_variable="PLAYGROUND_TOKEN"
    )


def request_snippets(
    parameters: GenerationParameters, *, model: str, base_url: str | None, key_variable: str
) -> dict[str, str]:
    """curl, Python and JavaScript (OpenAI SDK) for one request; a base URL of None is read from ZIMAGE_BASE_URL."""
    body = provider_request_body(parameters, model=model)
    extension = body.pop("parameters")  # the OpenAI SDKs send the provider's extension as an extra body field
    if base_url is None:
        curl_url = '"$ZIMAGE_BASE_URL/images/generations"'
        python_url, javascript_url = 'os.environ["ZIMAGE_BASE_URL"]', "process.env.ZIMAGE_BASE_URL"
    else:
        curl_url, python_url, javascript_url = (
            f"{base_url}/images/generations",
            f'"{base_url}"',
            f'"{base_url}"',
        )
    shell_body = json.dumps(body | {"parameters": extension}, indent=2, ensure_ascii=False).replace(
        "'", "'\\''"
    )
    python_arguments = "".join(f"    {name}={_python(value)},\n" for name, value in body.items())
    javascript_arguments = "".join(
        f"  {name}: {json.dumps(value, ensure_ascii=False)},\n" for name, value in body.items()
    )
    return {
        "curl": (
            f"curl {curl_url} \\\n"
            f'  -H "Authorization: Bearer ${key_variable}" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f"  -d '{shell_body}'"
        ),
        "python": (
            "import os\n\nfrom openai import OpenAI\n\n"
            f'client = OpenAI(base_url={python_url}, api_key=os.environ["{key_variable}"])\n'
            "result = client.images.generate(\n"
            f"{python_arguments}"
            f'    extra_body={{"parameters": {_python(extension)}}},\n'
            ")\n"
            "print(result.data[0].url)"
        ),
        "javascript": (
            'import OpenAI from "openai";\n\n'
            f"const client = new OpenAI({{ baseURL: {javascript_url}, apiKey: process.env.{key_variable} }});\n"
            "const result = await client.images.generate({\n"
            f"{javascript_arguments}"
            f"  parameters: {json.dumps(extension)},\n"
            "});\n"
            "console.log(result.data[0].url);"
        ),
    }


def _python(value: object) -> str:
    """A value as Python source: JSON's literals, with Python's True and False."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(key)}: {_python(item)}" for key, item in value.items()) + "}"
    if isinstance(value, bool):
        return str(value)
    return json.dumps(value, ensure_ascii=False)
