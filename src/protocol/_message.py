"""The ``Message`` base type and the registry from wire tag to type.

Every message an actor accepts is a frozen :class:`msgspec.Struct` subclassing
:class:`Message`. Defining the class registers it: the registry maps its tag
to the class, so bytes can be decoded back into exactly that type and nothing
else (no pickle, no arbitrary types from the wire).

The default tag is the class's ``module.QualName``, unique by construction.
Protocols that must survive a module rename choose a short stable tag::

    class Ping(Message, tag="ping"):
        seq: int
"""

from __future__ import annotations

import threading
from typing import Any, dataclass_transform

import msgspec

from ._errors import DuplicateMessageTag

__all__ = ["Message", "MessageRegistry", "registry"]


class MessageRegistry:
    """Maps wire tags to registered :class:`Message` types.

    ``version`` increases with every registration so that decoders built over
    the registered union know when to rebuild.
    """

    def __init__(self) -> None:
        self._by_tag: dict[str, type[Message]] = {}
        self._lock = threading.Lock()
        self.version = 0

    def register(self, cls: type[Message]) -> None:
        tag = cls.__struct_config__.tag
        if not isinstance(tag, str):  # pragma: no cover - the metaclass always sets one
            raise TypeError(f"{cls.__qualname__} has no string tag")
        with self._lock:
            existing = self._by_tag.get(tag)
            if existing is not None and _identity(existing) != _identity(cls):
                raise DuplicateMessageTag(tag, _identity(existing), _identity(cls))
            # Redefining the same class (a reloaded module) replaces it.
            self._by_tag[tag] = cls
            self.version += 1

    def lookup(self, tag: str) -> type[Message] | None:
        """The type registered under ``tag``, or ``None``."""
        return self._by_tag.get(tag)

    def types(self) -> tuple[type[Message], ...]:
        """Every registered type, in registration order."""
        with self._lock:
            return tuple(self._by_tag.values())

    def __len__(self) -> int:
        return len(self._by_tag)

    def __contains__(self, tag: object) -> bool:
        return tag in self._by_tag


def _identity(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


registry = MessageRegistry()
"""The process-wide registry every :class:`Message` subclass joins."""


@dataclass_transform(field_specifiers=(msgspec.field,), frozen_default=True)
class _MessageMeta(msgspec.StructMeta):
    """Gives each Message subclass a unique default tag and registers it."""

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kwargs: Any,  # Any: msgspec's struct options, validated by msgspec itself
    ) -> _MessageMeta:
        is_subclass = any(isinstance(base, _MessageMeta) for base in bases)
        if is_subclass and "tag" not in kwargs:
            kwargs["tag"] = f"{namespace['__module__']}.{namespace['__qualname__']}"
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if is_subclass:
            registry.register(cls)  # type: ignore[arg-type]
        return cls


class Message(
    msgspec.Struct,
    metaclass=_MessageMeta,
    frozen=True,
    tag=True,
    array_like=True,
):
    """Base of every message: frozen, tagged, validated, binary-encodable.

    Subclass it with annotated fields; the subclass is registered at once.
    The same instances travel in process (by reference, never encoded) and
    over the wire (msgpack, decoded only into registered types).
    """

    @classmethod
    def message_tag(cls) -> str:
        """The tag this type carries on the wire."""
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str), f"{cls.__qualname__} is not a concrete message type"
        return tag
