"""``actors.ledger.__all__`` lists exactly the public names, and they are documented."""

from __future__ import annotations

import inspect
import types

import actors.ledger
from actors import ActorError


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(actors.ledger).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert isinstance(actors.ledger.__all__, tuple)
    assert set(actors.ledger.__all__) == public
    assert len(actors.ledger.__all__) == len(public)


def test_public_classes_and_functions_have_docstrings() -> None:
    for name in actors.ledger.__all__:
        value = getattr(actors.ledger, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def test_every_ledger_error_is_an_actor_error() -> None:
    errors = [
        getattr(actors.ledger, name)
        for name in actors.ledger.__all__
        if inspect.isclass(getattr(actors.ledger, name))
        and issubclass(getattr(actors.ledger, name), BaseException)
    ]
    assert len(errors) >= 10
    assert all(issubclass(error, actors.ledger.LedgerError) for error in errors)
    assert issubclass(actors.ledger.LedgerError, ActorError)
