"""quick_init: the record's frozen dataclasses built by a cheaper __init__ are the same instances."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from cds_service.record.frozen import quick_init
from cds_service.record.model import LabResult, MedicationUse


@dataclasses.dataclass(frozen=True, slots=True)
class Plain:
    name: str
    when: date | None = None
    tags: list[str] = dataclasses.field(default_factory=list, hash=False)
    raw: dict[str, str] | None = dataclasses.field(default=None, compare=False, repr=False)


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Quick:
    name: str
    when: date | None = None
    tags: list[str] = dataclasses.field(default_factory=list, hash=False)
    raw: dict[str, str] | None = dataclasses.field(default=None, compare=False, repr=False)


def test_same_fields_defaults_and_factories_as_the_generated_init() -> None:
    quick, plain = Quick("a", date(2026, 11, 25), raw={"x": "y"}), Plain("a", date(2026, 11, 25), raw={"x": "y"})
    assert dataclasses.astuple(quick) == dataclasses.astuple(plain)
    assert repr(quick) == repr(plain).replace("Plain", "Quick")
    assert Quick("a") == Quick("a", None, [])
    assert hash(Quick("b", date(2026, 1, 1))) == hash(Quick("b", date(2026, 1, 1)))
    assert Quick("a").tags is not Quick("a").tags  # a default factory runs per instance
    assert Quick("a", raw={"x": "1"}) == Quick("a", raw={"x": "2"})  # compare=False kept
    assert dataclasses.replace(quick, name="b").name == "b"


def test_still_frozen_and_still_strict_about_arguments() -> None:
    quick = Quick("a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.name = "b"  # type: ignore[misc]
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'name'"):
        Quick()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'nme'"):
        Quick(nme="a")  # type: ignore[call-arg]


def test_refuses_what_it_cannot_reproduce() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        name: str

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        name: str

        def __post_init__(self) -> None:
            raise AssertionError("never called by quick_init")

    with pytest.raises(TypeError, match="frozen slots"):
        quick_init(Mutable)
    with pytest.raises(TypeError, match="__post_init__"):
        quick_init(Checked)


def test_the_record_types_use_it() -> None:
    use = MedicationUse(ref="MedicationRequest/a", resource_type="MedicationRequest", status="active", display="x",
                        ingredients=(), matched_by="code", is_current=True, is_draft=False)
    assert use.end is None and use.rxnorm_codes == () and use.product_classes == frozenset()
    assert type(use).__init__.__qualname__ == "MedicationUse.__init__"
    assert "_set0" in type(use).__init__.__code__.co_names
    lab = LabResult(ref="Observation/1", display="ALT", code="1742-6", classes=frozenset({"alt"}), status="final",
                    when=date(2026, 11, 20))
    with pytest.raises(dataclasses.FrozenInstanceError):
        lab.value = 3.0  # type: ignore[misc]
