"""Every string the UI shows is in the catalogue, in both languages, and every error code
and quality reason the core and the devices can produce has a plain sentence."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

import edge.errors
import hal.errors
from edge.workflow import ExceptionReason, Step
from tui.catalogue import LANGUAGES, STRINGS, Catalogue

TUI = Path(__file__).resolve().parents[2] / "tui"
LITERAL_KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""")
QUALITY_REASONS = {
    "face": ("no_face", "multiple_faces", "eyes_too_close", "off_centre", "blur", "too_dark",
             "too_bright"),
    "finger": ("no_finger", "partial", "low_contrast", "smudged", "dry", "wet"),
    "iris": ("no_iris", "iris_too_small", "off_centre", "occluded", "blur", "low_contrast",
             "too_dark", "too_bright", "pupil_dilation"),
    "signature": ("empty", "too_small", "smeared"),
}
WARNINGS = ("background_red_expected", "background_blue_expected", "eye_distance_estimated")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("key", sorted(STRINGS))
def test_both_languages_say_the_same_thing(key: str) -> None:
    entry = STRINGS[key]
    assert len(entry) == len(LANGUAGES)
    assert all(text.strip() for text in entry), f"{key} is empty in a language"
    assert _fields(entry[0]) == _fields(entry[1]), f"{key}: the placeholders differ"


def test_every_literal_key_in_the_ui_exists() -> None:
    used = set()
    for path in TUI.rglob("*.py"):
        used |= set(LITERAL_KEY.findall(path.read_text()))
    # "place.type." + kind: a family of keys, at least one must exist
    missing = sorted(k for k in used if k not in STRINGS and not (
        k.endswith(".") and any(key.startswith(k) for key in STRINGS)))
    assert not missing, missing
    assert len(used) > 100


def test_every_binding_has_a_label_in_the_catalogue() -> None:
    from textual.binding import Binding

    import tui.app

    classes = [tui.app.RekamApp]
    for package in ("tui.screens", "tui.dialogs"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{package}.{info.name}")
            classes += [c for _, c in inspect.getmembers(module, inspect.isclass)
                        if c.__module__ == module.__name__]
    checked = 0
    for cls in classes:
        for binding in getattr(cls, "BINDINGS", []):
            assert isinstance(binding, Binding)
            if binding.show:
                assert binding.id, f"{cls.__name__}: {binding.key} has no id"
                assert f"key.{binding.id}" in STRINGS, f"{cls.__name__}: key.{binding.id}"
                checked += 1
    assert checked > 20


def test_every_error_code_has_a_sentence() -> None:
    import sync.errors

    codes = set()
    for module in (edge.errors, hal.errors, sync.errors):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Exception) and hasattr(cls, "code"):
                codes.add(cls.code)
    missing = sorted(c for c in codes if f"err.{c}" not in STRINGS)
    assert not missing, missing


@pytest.mark.parametrize("language", LANGUAGES)
def test_quality_reasons_become_advice(language: str) -> None:
    cat = Catalogue(language)
    for modality, codes in QUALITY_REASONS.items():
        for code in codes:
            text = cat.reason(modality, code)
            assert text != cat.t("reason.unknown", code=code), (modality, code)
            assert "—" in text, (modality, code, text)  # what is wrong — what to do
    for code in WARNINGS:
        assert code not in cat.reason("face", code)


def test_domain_words_in_both_languages() -> None:
    for language in LANGUAGES:
        cat = Catalogue(language)
        for step in Step:
            if step not in (Step.IDENTIFY, Step.SEALED, Step.CANCELLED):
                assert cat.has(f"step.{step.value}")
        for reason in ExceptionReason:
            assert cat.has(f"exc.reason.{reason.value}") and cat.has(f"excshort.{reason.value}")
            assert len(cat.t(f"exccell.{reason.value}")) <= 6  # a cell of the hand map
    assert Catalogue("id").finger("right_index") == "Telunjuk kanan"
    assert Catalogue("en").finger("left_little") == "Left little"


def test_device_errors_name_the_device_and_say_what_to_do() -> None:
    error = hal.errors.DeviceUnplugged("the fingerprint is unplugged", device="fingerprint")
    title, text = Catalogue("id").error(error)
    assert title == "Perangkat bermasalah"
    assert text.startswith("Pemindai sidik jari terlepas") and "coba lagi" in text
    title, text = Catalogue("en").error(error)
    assert text.startswith("The fingerprint scanner is unplugged")
    wrong = edge.errors.WrongPIN("budi", 3)
    assert "3" in Catalogue("id").error(wrong)[1]


def test_the_catalogue_and_services_load_without_textual() -> None:
    code = ("import sys, tui.catalogue, tui.services, tui.run; "
            "print('textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_command_line_starts_without_textual() -> None:
    code = "import sys, rekam.cli; rekam.cli.build_parser(); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False", "rekam's CLI must start without Textual"


def test_indonesian_calls_headquarters_pusat_never_hq() -> None:
    """One word for headquarters on the Indonesian screens: "pusat" (English says HQ)."""
    mixed = [key for key, (indonesian, _) in STRINGS.items()
             if re.search(r"\bHQ\b", indonesian)]
    assert mixed == []


def test_every_audit_action_the_kit_writes_has_words() -> None:
    """The Technician screen names audit entries in words, not code names."""
    root = Path(__file__).resolve().parents[2]
    written = set()
    for package in ("edge", "sync", "tui", "rekam"):
        for path in (root / package).rglob("*.py"):
            written |= set(re.findall(r"audit\.append\(\s*[^,]+,\s*\"([a-z_]+)\"",
                                      path.read_text()))
    written |= {"login", "approval"}  # edge.operator_store passes these through a variable
    assert written and all(f"audit.{action}" in STRINGS for action in written), \
        sorted(a for a in written if f"audit.{a}" not in STRINGS)


def test_every_error_a_person_sees_shares_one_typed_base() -> None:
    """Device and domain errors alike are hal.errors.ShownError: the catalogue reads their
    code, details and device kind as typed attributes; a bug's exception gets the general
    sentence, never a code it happens to carry."""
    from edge.errors import WrongPIN
    from hal.errors import CaptureTimeout, ShownError, code_of

    cat = Catalogue("id")
    timeout = CaptureTimeout("no frame", device="camera")
    pin = WrongPIN("budi", attempts_left=2)
    assert isinstance(timeout, ShownError) and isinstance(pin, ShownError)
    assert code_of(timeout) == "capture_timeout" and code_of(pin) == "wrong_pin"
    assert cat.error(timeout)[1] == cat.t("err.capture_timeout",
                                          device=cat.t("devnoun.camera"))
    assert "2" in cat.error(pin)[1]

    class Foreign(Exception):
        code = "wrong_pin"  # not ours: its code must not pick our words

    assert code_of(Foreign()) == "error"
    assert cat.error(Foreign("x"))[1] == cat.t("err.error", message="x",
                                               device=cat.t("devnoun.generic"))
