"""Bad messages get JSON-RPC errors: the server answers them and carries on.

pygls logs a request whose parameters do not match the LSP types and drops it, so the client
would wait for an answer forever; here such a request is answered with ``InvalidParams`` (or
``InternalError``) under its id. A message that is not JSON at all is answered with a
``ParseError`` without an id, as JSON-RPC 2.0 says.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from lsprotocol.types import ResponseErrorMessage
from pygls.exceptions import JsonRpcException, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


class Protocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            request_id = data.get("id")
            if "method" in data and isinstance(request_id, (int, str)) and not isinstance(request_id, bool):
                self._send_response(request_id, error=exc.to_response_error())
            raise


def report_bad_message(protocol: LanguageServerProtocol, error: Exception) -> None:
    """What the server does with a message it could not read (``report_server_error``)."""
    if isinstance(error, json.JSONDecodeError):
        protocol._send_data(ResponseErrorMessage(id=None, error=JsonRpcParseError().to_response_error()))
    log.warning("bad message from the client: %s", error)
