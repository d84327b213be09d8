"""JSON Schema of every registered message type, for clients in other languages.

A message travels as a msgpack array ``[tag, field, ...]`` (see ``Message``).
:func:`export_schemas` describes each registered type's array with
:func:`msgspec.json.schema_components`, so a client that does not read Python
can check what it sends and receives. The schema speaks JSON's types; on the
wire, msgpack's: a field whose schema is a base64 ``string``
(``"contentEncoding": "base64"``) is a msgpack ``bin``, and every other type
maps one to one (integer, number, string, boolean, null, array, object).
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._message import MessageRegistry, registry

__all__ = ["SCHEMA_DIALECT", "export_schemas"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect :func:`export_schemas` writes."""

_COMMENT = (
    "Tadpole message types. Each is a msgpack array whose first element is the "
    "type's tag (messages maps tag -> schema). Where a schema says a base64 string, "
    "the msgpack value is bin."
)


def export_schemas(messages: MessageRegistry = registry) -> dict[str, Any]:
    """A JSON Schema document describing every message type in ``messages``.

    The result is plain JSON data (``json.dumps`` it as is)::

        {"$schema": ..., "$comment": ...,
         "messages": {tag: {"$ref": "#/$defs/<Name>"}, ...},
         "$defs": {<Name>: <schema of the msgpack array>, ...}}

    ``messages`` lists the tags in registration order. Only types registered
    when it is called appear: import the modules that define your messages
    first (``python -m protocol schemas --import MODULE`` does).
    """
    types = messages.types()
    # Any: msgspec returns JSON data (dicts of str to JSON values).
    refs: tuple[dict[str, Any], ...]
    components: dict[str, Any]
    refs, components = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    return {
        "$schema": SCHEMA_DIALECT,
        "$comment": _COMMENT,
        "messages": {cls.message_tag(): ref for cls, ref in zip(types, refs, strict=True)},
        "$defs": components,
    }
