"""Every registered message type's JSON Schema can be exported, in Python and from the shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec

import protocol
from protocol import Message, MessageRegistry, export_schemas
from tests.helpers import Ping

SRC = Path(__file__).resolve().parents[3] / "src"
ROOT = SRC.parent


class Sample(Message, tag="test.schema.sample"):
    name: str
    blob: bytes
    count: int = 0
    tags: list[str] = msgspec.field(default_factory=list)


def test_every_registered_type_is_described_by_its_tag() -> None:
    document = export_schemas()
    assert document["$schema"] == protocol.SCHEMA_DIALECT
    tags = [cls.message_tag() for cls in protocol.registry.types()]
    assert list(document["messages"]) == tags
    for tag, ref in document["messages"].items():
        name = ref["$ref"].removeprefix("#/$defs/")
        schema = document["$defs"][name]
        cls = protocol.registry.lookup(tag)
        assert cls is not None
        assert schema["type"] == "array"
        # The tag first, then one element per field, in field order.
        assert schema["prefixItems"][0] == {"enum": [tag]}
        assert len(schema["prefixItems"]) == 1 + len(cls.__struct_fields__)


def test_a_message_schema_gives_field_types_and_required_count() -> None:
    document = export_schemas()
    schema = document["$defs"][document["messages"]["test.schema.sample"]["$ref"].split("/")[-1]]
    _, name, blob, count, tags = schema["prefixItems"]
    assert name == {"type": "string"}
    assert blob["type"] == "string"
    assert blob["contentEncoding"] == "base64"  # on the wire: msgpack bin
    assert count["type"] == "integer"
    assert count["default"] == 0
    assert tags["type"] == "array"
    assert schema["minItems"] == 3  # tag, name, blob: the fields without defaults


def test_a_registry_of_its_own_exports_only_its_types() -> None:
    messages = MessageRegistry()
    messages.register(Ping)
    document = export_schemas(messages)
    assert list(document["messages"]) == ["test.ping"]
    assert json.loads(json.dumps(document)) == document  # plain JSON data


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT)])
    return subprocess.run(
        [sys.executable, "-m", "protocol", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_command_line_prints_the_schemas_of_imported_modules() -> None:
    result = _cli("schemas", "--import", "tests.helpers", "--import", "actors.remote")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {"test.ping", "test.pong", "test.boom", "tadpole.none"} <= set(document["messages"])


def test_the_command_line_writes_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "schemas.json"
    result = _cli("schemas", "--import", "tests.helpers", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "test.ping" in json.loads(out.read_text())["messages"]


def test_the_command_line_names_a_module_it_cannot_import() -> None:
    result = _cli("schemas", "--import", "no_such_module_xyz")
    assert result.returncode == 2
    assert "--import no_such_module_xyz: cannot import it" in result.stderr
