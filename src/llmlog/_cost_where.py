"""Which genai-prices provider prices a call: the one the SDK client talked to.

The openai and anthropic SDKs reach many servers besides their makers' own: OpenAI-
compatible hosts (Cerebras, Groq, Together, DeepSeek, OpenRouter, a local vLLM),
Bedrock, Vertex, Azure, gateways. A model name does not say who billed the call
(``gpt-oss-120b`` costs something different at each host), so the record's
``server_address`` picks the price table; an unknown host is taken for a gateway in
front of the SDK's provider, and named in ``price_source``. Kept apart from ``cost``: it
is knowledge about hosts, resolved once per (SDK, host) and cached there.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

__all__ = ["HF_ROUTER", "Where", "resolve"]


class Where(NamedTuple):
    """Where to look a call's model up."""

    providers: tuple[str | None, ...]
    """genai-prices provider ids, tried in turn; None: any provider whose models match."""
    via: str | None = None
    """A gateway in front of the provider, named in ``price_source``."""
    requested_first: bool = False
    """Look up the requested model before the one the answer names (Bedrock: the
    inference profile asked for says the region, the answer names the plain model)."""


_OWN: Final = {"api.openai.com": "openai", "api.anthropic.com": "anthropic"}
HF_ROUTER: Final = "huggingface_<provider> (named by the model's ':provider')"
"""Hugging Face's router serves each model at a provider of its choosing unless the model
names one (``openai/gpt-oss-120b:cerebras``): genai-prices' ``huggingface_cerebras``."""
# Gateways that pass calls on to the provider the SDK is made for (the model name is that
# provider's): priced at its price, with the gateway named.
_GATEWAYS: Final = frozenset(
    {
        "gateway.ai.cloudflare.com",  # Cloudflare AI Gateway
        "oai.helicone.ai",  # Helicone's OpenAI proxy
        "anthropic.helicone.ai",  # and its Anthropic one
        "gateway.helicone.ai",
        "api.portkey.ai",
    }
)
# Azure hosts: OpenAI's own models at OpenAI's price, what else Azure lists at its own.
_AZURE: Final = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
    ".azure-api.net",
)


def resolve(snapshot: Any, sdk: str | None, host: str | None, operation: Any) -> Where | str:
    """Where a call to ``host`` through the ``sdk`` client is priced, or why it is not.

    Without a host (a session over a websocket, a record written before the field) the
    table of the SDK's provider is tried first, then any provider listing the model.
    """
    sdk_then_any = (sdk, None) if sdk else (None,)
    if host is None:
        where = Where(sdk_then_any)
    elif host in _OWN:
        where = Where((_OWN[host],))
    elif host.endswith(_AZURE):
        where = Where((sdk, "azure"))
    elif host in _GATEWAYS:
        where = Where(sdk_then_any, via=host)  # a gateway may serve other providers' models
    elif sdk == "anthropic" and _claude_platform(host):
        where = Where(("anthropic",))
    elif host == "router.huggingface.co":
        where = Where((HF_ROUTER,))
    elif _bedrock(host):
        where = Where(("aws",), requested_first=True)
    else:
        try:
            found = _provider_at(snapshot, host)
        except LookupError:
            # A host genai-prices does not know: most often a gateway or proxy in front of
            # the SDK's provider (a company's, LiteLLM on localhost), so the model is that
            # provider's, priced so, the host named (a model served by the host itself
            # under a provider's model name would be priced as the provider's).
            return Where(sdk_then_any, via=host)
        where = Where((found.id,), requested_first=found.id == "aws")
    if operation == "decisions" and where.providers[0] == "openai":
        # Decisions bill input only (genai-prices lists them as a provider of their own).
        where = where._replace(providers=("openai-decisions",))
    return where


def _provider_at(snapshot: Any, host: str) -> Any:
    """genai-prices' provider serving at ``host``. The record keeps no URL path, and
    Databricks is only known by its: its OpenAI-compatible API is always under
    ``/serving-endpoints``, so that is tried when the host alone is not known."""
    try:
        return snapshot.find_provider(None, None, f"https://{host}")
    except LookupError:
        return snapshot.find_provider(None, None, f"https://{host}/serving-endpoints")


_BEDROCK_SERVICES: Final = frozenset(
    {"bedrock-runtime", "bedrock-runtime-fips", "bedrock-mantle", "bedrock-mantle-fips"}
)
_AWS_DOMAINS: Final = (".amazonaws.com", ".api.aws")


def _bedrock(host: str) -> bool:
    """Bedrock's runtime (and its newer Mantle endpoint) under any of its AWS names: the
    regional host, its FIPS twin, a VPC endpoint (``vpce-0abc.bedrock-runtime.us-east-1.
    vpce.amazonaws.com``). genai-prices knows only the regional host; the others are the
    same service at the same prices, not a gateway in front of Anthropic."""
    if not host.endswith(_AWS_DOMAINS):
        return False
    return not _BEDROCK_SERVICES.isdisjoint(host.split("."))


def _claude_platform(host: str) -> bool:
    """Anthropic's API run on a cloud: Claude Platform on AWS and Google Cloud (Anthropic's
    prices), and Vertex AI (genai-prices lists no regional Vertex price for Claude, so its
    regional endpoints are priced as the global one)."""
    if host == "claude.googleapis.com" or (
        host.startswith("aws-external-anthropic.") and host.endswith(".api.aws")
    ):
        return True
    return host.endswith(".googleapis.com") and "aiplatform" in host
