"""What a `/v1/images/generations` body may hold, model by model: OpenAI answers 400 for an argument it does not
recognise, and so does the playground, rather than drop it and bill an image made without it.

The fields are a function of the model, so that a model with more capabilities (another model on the same
account that takes `negative_prompt`, say) widens them without touching the check.
"""

from __future__ import annotations

from dataclasses import dataclass

# OpenAI's own field for an end user's id: accepted and not used (it changes nothing in the image).
TOP_LEVEL_FIELDS = frozenset({"model", "prompt", "size", "n", "response_format", "parameters", "user"})
PARAMETER_FIELDS = frozenset({"prompt_extend", "seed"})


@dataclass(frozen=True, slots=True)
class AcceptedFields:
    top_level: frozenset[str]
    parameters: frozenset[str]


def accepted_fields(model: str) -> AcceptedFields:
    """The fields a body for `model` may hold, at the top level and under `parameters`."""
    return AcceptedFields(TOP_LEVEL_FIELDS, PARAMETER_FIELDS)


def unknown_field(body: dict, parameters: dict, *, model: str) -> tuple[str, str] | None:
    """The first field of the body (or of its `parameters`) that `model` does not take, as the `param` an error
    names and a sentence that says why; None when every field is known."""
    accepted = accepted_fields(model)
    found = [(name, name) for name in body if name not in accepted.top_level]
    found += [(name, f"parameters.{name}") for name in parameters if name not in accepted.parameters]
    if not found:
        return None
    name, param = found[0][0], found[0][1][:100]
    if name == "negative_prompt":
        return param, (
            f"{model} has no negative prompt, so it cannot be applied. Describe what you want in the prompt "
            "instead; nothing was made or billed."
        )
    return param, f"Unrecognized request argument supplied: {param}. Nothing was made or billed."
