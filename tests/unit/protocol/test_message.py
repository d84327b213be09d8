"""The Message base type and the tag registry."""

from __future__ import annotations

import re

import msgspec
import pytest

from protocol import (
    DuplicateMessageTag,
    Message,
    MessageDefinitionError,
    MessageRegistry,
    ProtocolError,
    registry,
)


class Greeting(Message):
    text: str


class Tagged(Message, tag="test_message.tagged"):
    value: int


class Outer:
    class Inner(Message):
        flag: bool


def test_subclass_is_registered_under_its_module_qualified_name() -> None:
    tag = f"{__name__}.Greeting"

    assert Greeting.message_tag() == tag
    assert registry.lookup(tag) is Greeting


def test_nested_class_tag_uses_the_qualified_name() -> None:
    assert Outer.Inner.message_tag() == f"{__name__}.Outer.Inner"
    assert registry.lookup(Outer.Inner.message_tag()) is Outer.Inner


def test_explicit_tag_replaces_the_default() -> None:
    assert Tagged.message_tag() == "test_message.tagged"
    assert registry.lookup("test_message.tagged") is Tagged
    assert registry.lookup(f"{__name__}.Tagged") is None


def test_tag_travels_as_the_first_array_element() -> None:
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(Tagged(7))) == ["test_message.tagged", 7]


def test_messages_are_frozen() -> None:
    message = Greeting("hi")

    with pytest.raises(AttributeError):
        message.text = "bye"  # type: ignore[misc]


def test_messages_compare_by_value() -> None:
    assert Greeting("hi") == Greeting("hi")
    assert Greeting("hi") != Greeting("ho")


def test_the_base_type_itself_is_not_registered() -> None:
    assert Message not in registry.types()


def test_second_class_claiming_a_used_tag_is_refused() -> None:
    with pytest.raises(DuplicateMessageTag, match=re.escape("test_message.tagged")) as caught:

        class Impostor(Message, tag="test_message.tagged"):
            other: str

    assert caught.value.tag == "test_message.tagged"
    assert registry.lookup("test_message.tagged") is Tagged


def test_duplicate_tag_is_a_definition_error_and_a_type_error() -> None:
    assert issubclass(DuplicateMessageTag, MessageDefinitionError)
    assert issubclass(DuplicateMessageTag, ProtocolError)
    assert issubclass(DuplicateMessageTag, TypeError)


def test_redefining_the_same_class_replaces_its_registration() -> None:
    def define() -> type[Message]:
        class Reloaded(Message, tag="test_message.reloaded"):
            n: int

        return Reloaded

    first = define()
    second = define()

    assert first is not second
    assert registry.lookup("test_message.reloaded") is second


def test_registry_lookup_of_an_unknown_tag_returns_none() -> None:
    assert registry.lookup("no.such.tag") is None
    assert "no.such.tag" not in registry


def test_fresh_registry_lists_types_in_registration_order() -> None:
    messages = MessageRegistry()

    messages.register(Tagged)
    messages.register(Greeting)

    assert messages.types() == (Tagged, Greeting)
    assert len(messages) == 2
    assert Greeting.message_tag() in messages


def test_registry_version_grows_with_each_registration() -> None:
    messages = MessageRegistry()
    before = messages.version

    messages.register(Greeting)
    messages.register(Tagged)

    assert messages.version == before + 2
