"""The envelope kinds as module globals, for the connection's hot paths.

``MessageKind.TELL`` is an attribute lookup on an enum class at every use; a
module global is one dictionary lookup. Each connection module imports the
ones it compares with from here.
"""

from __future__ import annotations

from protocol import MessageKind

__all__ = ["_ASK", "_CANCEL", "_ERROR", "_REPLY", "_TELL", "_TELLS"]

_TELL, _ASK, _REPLY, _ERROR, _CANCEL, _TELLS = (
    MessageKind.TELL,
    MessageKind.ASK,
    MessageKind.REPLY,
    MessageKind.ERROR,
    MessageKind.CANCEL,
    MessageKind.TELLS,
)
