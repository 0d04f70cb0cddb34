"""The provider: one package per outside system. `client` speaks HTTP to it (OpenAI Images protocol), `errors` says
what can go wrong, `demo` draws offline pictures when no key is set, `config` picks which of the two runs."""
