"""The enrolment state machine, driven through the simulated devices: quality gates, best of
three, supervisor-approved exceptions, device faults, back, cancel and sealing."""

from __future__ import annotations

import pytest
from kit_world import OPERATOR_PIN, SUPERVISOR_PIN

from edge.errors import AuthError, InvalidInput, WorkflowError
from edge.kit import Kit
from edge.operators import KdfParams
from edge.workflow import ExceptionReason, Step, run_clean
from hal.errors import CaptureTimeout, DeviceUnplugged
from hal.registry import open_devices
from hal.types import Finger


@pytest.fixture
def kit(world):
    kit = Kit(world.kit_home, kdf=KdfParams.FAST_FOR_TESTS)
    yield kit
    kit.close()


@pytest.fixture
def devices():
    with open_devices("sim", seed=3, allow_simulated=True) as devices:
        yield devices


@pytest.fixture
def enrolment(world, kit, devices):
    session = kit.login("budi", OPERATOR_PIN)
    nik = world.niks(1)[0]
    enrolment = kit.start_enrolment(session, nik, devices)
    devices.sim.set_subject(nik, birth_year=enrolment.resident.birth_date.year)
    enrolment.session = session  # for the tests' convenience
    return enrolment


def _to(enrolment, step):
    enrolment.confirm_identity()
    while enrolment.step is not step:
        for state in enrolment.slots():
            while not state.done:
                enrolment.capture(state.slot)
        enrolment.advance()


def test_a_clean_resident_needs_one_capture_per_slot(enrolment):
    run_clean(enrolment)
    assert enrolment.step is Step.REVIEW
    lines = enrolment.review()
    assert len(lines) == 1 + 1 + 10 + 2 + 2
    assert all(line.status == "ok" and line.attempts == 1 for line in lines)


def test_a_poor_finger_is_retried_and_the_best_of_three_kept(enrolment, devices):
    _to(enrolment, Step.FINGERPRINTS)
    devices.sim.present_finger(quality=0.1, times=3)
    slot = enrolment.next_slot()
    outcomes = [enrolment.capture(slot) for _ in range(3)]
    assert [o.passed for o in outcomes] == [False, False, False]
    assert [o.attempts_left for o in outcomes] == [2, 1, 0]
    state = enrolment.state_of(slot)
    assert state.done and not state.passed
    assert state.best.quality.score == max(o.score for o in outcomes)
    assert state.best.quality.reasons  # it says why
    # The same finger presented cleanly later passes and replaces the poor best.
    devices.sim.clear("fingerprint")
    assert enrolment.capture(slot).passed


def test_scores_fall_as_the_finger_degrades(enrolment, devices):
    _to(enrolment, Step.FINGERPRINTS)
    slot = enrolment.next_slot()
    scores = []
    for quality in (1.0, 0.6, 0.2):
        devices.sim.present_finger(quality=quality)
        scores.append(enrolment.capture(slot).score)
    assert scores[0] > scores[1] > scores[2]


def test_a_missing_finger_needs_a_supervisors_pin(enrolment):
    _to(enrolment, Step.FINGERPRINTS)
    slot = next(s.slot for s in enrolment.slots() if s.slot.position == "left_little")
    with pytest.raises(AuthError):
        enrolment.except_slot(slot, ExceptionReason.AMPUTATED, supervisor_id="siti",
                              pin="000000")
    with pytest.raises(AuthError):  # an operator is not a supervisor
        enrolment.except_slot(slot, ExceptionReason.AMPUTATED, supervisor_id="budi",
                              pin=OPERATOR_PIN)
    assert enrolment.state_of(slot).exception is None
    with pytest.raises(InvalidInput):  # blindness is no finger exception
        enrolment.except_slot(slot, ExceptionReason.BLIND, supervisor_id="siti",
                              pin=SUPERVISOR_PIN)
    record = enrolment.except_slot(slot, ExceptionReason.AMPUTATED, supervisor_id="siti",
                                   pin=SUPERVISOR_PIN)
    assert record.approved_by == "siti"
    assert enrolment.state_of(slot).done


def test_an_excepted_index_finger_is_verified_with_another_finger(enrolment, kit):
    _to(enrolment, Step.FINGERPRINTS)
    index = next(s.slot for s in enrolment.slots() if s.slot.position == Finger.LEFT_INDEX)
    enrolment.except_slot(index, ExceptionReason.BANDAGED, supervisor_id="siti",
                          pin=SUPERVISOR_PIN)
    run_clean(enrolment)
    manifest, images = enrolment.build_packet_contents(enrolment.started_at)
    verified = {v.position for v in manifest.verification}
    assert Finger.RIGHT_INDEX in verified and Finger.LEFT_INDEX not in verified
    assert verified & {"left_thumb", "left_middle", "left_ring", "left_little"}
    assert [e.position for e in manifest.exceptions] == ["left_index"]
    assert "finger_left_index.jp2" not in images


def test_a_device_unplugged_mid_capture_changes_nothing_and_can_be_retried(enrolment,
                                                                            devices):
    _to(enrolment, Step.IRISES)
    slot = enrolment.next_slot()
    devices.sim.unplug("iris")
    with pytest.raises(DeviceUnplugged):
        enrolment.capture(slot)
    assert enrolment.state_of(slot).attempts == 0 and enrolment.state_of(slot).best is None
    devices.sim.replug("iris")
    devices.sim.timeout_next("iris")
    with pytest.raises(CaptureTimeout):
        enrolment.capture(slot)
    assert enrolment.capture(slot).passed


def test_steps_cannot_be_skipped_and_back_keeps_captures(enrolment):
    enrolment.confirm_identity()
    with pytest.raises(WorkflowError, match="face is not finished"):
        enrolment.advance()
    enrolment.capture()
    enrolment.advance()
    assert enrolment.step is Step.SIGNATURE
    assert enrolment.back() is Step.FACE
    assert enrolment.slots()[0].done
    with pytest.raises(WorkflowError):
        enrolment.build_packet_contents(enrolment.started_at)


def test_cancel_leaves_no_biometric_trace_on_disk(world, kit, enrolment):
    before = {p: p.read_bytes() for p in world.kit_home.rglob("*") if p.is_file()}
    run_clean(enrolment)
    # What sealing would have written: 64 bytes from the middle of each encoded image (a
    # short marker such as JPEG's 3-byte SOI turns up in megabytes of ciphertext by chance).
    _, images = enrolment.build_packet_contents(kit.clock())
    samples = {name: data[len(data) // 2 : len(data) // 2 + 64] for name, data in images.items()}
    del images
    kit.cancel_enrolment(enrolment.session, enrolment)
    assert enrolment.step is Step.CANCELLED
    assert all(s.best is None for step in Step for s in enrolment.slots(step))
    assert kit.outbox.counts()["sealed"] == 0
    with kit.roster(enrolment.session) as roster:
        assert not roster.is_enrolled(enrolment.resident.nik)
    # Only the audit log and kit state may have grown; no image bytes anywhere.
    after = [p for p in world.kit_home.rglob("*") if p.is_file()]
    for path in after:
        data = path.read_bytes()
        for name, sample in samples.items():
            assert sample not in data, f"{name} found in {path}"
    assert set(before) <= set(after)


def test_sealing_keeps_only_ciphertext(world, kit, enrolment):
    run_clean(enrolment)
    packet = kit.seal_enrolment(enrolment.session, enrolment)
    assert enrolment.step is Step.SEALED
    assert all(s.best is None for step in Step for s in enrolment.slots(step))
    assert kit.outbox.data(packet.packet_id) == packet.data
    with kit.roster(enrolment.session) as roster:
        assert roster.is_enrolled(enrolment.resident.nik)
    audit = [e.action for e in kit.audit.entries()]
    assert audit[-1] == "enrolment_sealed"


def test_a_sealed_packet_carries_the_audit_head_it_was_sealed_after(world, kit, enrolment):
    from edge.packet import open_packet
    from hq.home import HqHome

    run_clean(enrolment)
    seq, digest = kit.audit.head()
    packet = kit.seal_enrolment(enrolment.session, enrolment)
    opened = open_packet(packet.data, hq_key=HqHome(world.hq_home).keys().sealing,
                         device_key=kit.device_key().public_key())
    assert opened.manifest.audit_head == {"seq": seq, "hash": digest}
    assert kit.audit.head()[0] == seq + 1  # then the seal itself is logged
