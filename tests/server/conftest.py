"""The language server tests drive the real ``losscheck server`` process over stdio."""

from __future__ import annotations

import pytest_lsp
from lsp_support import SERVER_COMMAND, make_client
from pytest_lsp import ClientServerConfig, LanguageClient


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND, client_factory=make_client))
async def client(lsp_client: LanguageClient):
    # Each test initializes the session itself (with its own workspace and capabilities).
    yield
    await lsp_client.shutdown_session()
