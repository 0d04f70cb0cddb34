from __future__ import annotations

from typing import Any

from django import forms

from judging.selectors import RoundOption

QUESTION_PRESETS = (
    "Which follows the prompt better?",
    "Which would you ship?",
    "Which looks better?",
    "Which has fewer flaws?",
)


class RoundForm(forms.Form):
    """A question and the parameter whose arms it compares, among those the images vary in."""

    question = forms.CharField(
        max_length=200,
        initial=QUESTION_PRESETS[0],
        widget=forms.TextInput(attrs={"list": "question-presets", "autocomplete": "off"}),
        help_text="What judges answer for each pair: type your own, or pick one of the suggestions.",
        error_messages={"required": "Ask the judges a question."},
    )
    parameter = forms.ChoiceField(
        label="Compare", widget=forms.RadioSelect, error_messages={"required": "Pick what to compare."}
    )

    def __init__(self, *args: Any, options: list[RoundOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = {option.parameter: option for option in options}
        parameter = self.fields["parameter"]
        assert isinstance(parameter, forms.ChoiceField)
        parameter.choices = [
            (
                option.parameter,
                f"{option.label}: {' vs '.join(_short(arm) for arm in option.arms)} "
                f"({option.pairs} pair{'' if option.pairs == 1 else 's'})",
            )
            for option in options
        ]
        if options:
            parameter.initial = options[0].parameter


def _short(label: str) -> str:
    return label if len(label) <= 40 else f"{label[:39]}…"


class JudgeNameForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        label="Your name",
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
        help_text="The team sees it next to your votes.",
        error_messages={"required": "Say who you are, so the team can tell judges apart."},
    )

    def clean_name(self) -> str:
        return " ".join(self.cleaned_data["name"].split())
