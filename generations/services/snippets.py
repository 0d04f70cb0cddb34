"""Code that reproduces a generation's exact request against the provider: curl, Python and JavaScript."""

from __future__ import annotations

import json

from django.conf import settings

from generations.models import Generation


def generation_request_snippets(*, generation: Generation, base_url: str, model: str) -> dict[str, str]:
    """Snippets keyed by language. The key is read from the environment in each: it is never in the page.

    So is the base URL, unless it is the provider's public endpoint: another (a gateway) may carry credentials.
    """
    if base_url == settings.ZIMAGE_PUBLIC_BASE_URL:
        curl_url = f"{base_url}/images/generations"
        python_url = javascript_url = f'"{base_url}"'
    else:
        curl_url = '"$ZIMAGE_BASE_URL/images/generations"'
        python_url, javascript_url = 'os.environ["ZIMAGE_BASE_URL"]', "process.env.ZIMAGE_BASE_URL"
    parameters = {"prompt_extend": generation.prompt_extend, "seed": generation.seed}
    body = {
        "model": model,
        "prompt": generation.prompt,
        "size": generation.size,
        "n": 1,
        "parameters": parameters,
    }
    body_json = json.dumps(body, indent=2, ensure_ascii=False)
    shell_body = body_json.replace("'", "'\\''")
    prompt = json.dumps(generation.prompt, ensure_ascii=False)
    return {
        "curl": (
            f"curl {curl_url} \\\n"
            '  -H "Authorization: Bearer $ZIMAGE_API_KEY" \\\n'
            '  -H "Content-Type: application/json" \\\n'
            f"  -d '{shell_body}'"
        ),
        "python": (
            "import os\n\nfrom openai import OpenAI\n\n"
            f'client = OpenAI(base_url={python_url}, api_key=os.environ["ZIMAGE_API_KEY"])\n'
            "result = client.images.generate(\n"
            f'    model="{model}",\n'
            f"    prompt={prompt},\n"
            f'    size="{generation.size}",\n'
            "    n=1,\n"
            f'    extra_body={{"parameters": {{"prompt_extend": {generation.prompt_extend}, "seed": {generation.seed}}}}},\n'
            ")\n"
            "print(result.data[0].url)"
        ),
        "javascript": (
            'import OpenAI from "openai";\n\n'
            f"const client = new OpenAI({{ baseURL: {javascript_url}, apiKey: process.env.ZIMAGE_API_KEY }});\n"
            "const result = await client.images.generate({\n"
            f'  model: "{model}",\n'
            f"  prompt: {prompt},\n"
            f'  size: "{generation.size}",\n'
            "  n: 1,\n"
            f"  parameters: {json.dumps(parameters)},\n"
            "});\n"
            "console.log(result.data[0].url);"
        ),
    }
