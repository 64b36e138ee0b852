"""Azure: which deployment a call went to. The SDK routes by the client's making, not
only by the call's ``model``, and the record's ``model`` is the deployment that answered."""

from __future__ import annotations

import sys
from typing import Final

from llmlog._record import Capture

# What an Azure client sends to its own deployment (the SDK's deployment endpoints), whatever
# the call's ``model`` says.
_DEPLOYMENT_OPERATIONS: Final = frozenset(
    {"chat.completions", "completions", "embeddings", "audio.speech"}
    | {"audio.transcriptions", "audio.translations"}
)
_DEPLOYMENT_IMAGE_METHODS: Final = frozenset({"images.generate", "images.edit"})


def azure_deployment(cap: Capture) -> str | None:
    """The deployment an Azure client was made for (``azure_deployment=``, or a base URL
    ending in ``/deployments/<name>``), when this call went there."""
    azure = sys.modules.get("openai.lib.azure")
    client = cap.client
    if azure is None or not isinstance(client, azure.BaseAzureClient):
        return None
    _, found, rest = str(client.base_url.path).partition("/deployments/")
    name = rest.split("/", 1)[0]
    if not (found and name):
        return None
    # Made with azure_endpoint= and azure_deployment=, the SDK sends only its deployment
    # endpoints there; made with a base URL naming the deployment, it sends every call there.
    endpoint_too = getattr(client, "_azure_deployment", None) and getattr(
        client, "_azure_endpoint", None
    )
    if (
        endpoint_too
        and cap.operation not in _DEPLOYMENT_OPERATIONS
        and cap.method not in _DEPLOYMENT_IMAGE_METHODS
    ):
        return None
    return name
