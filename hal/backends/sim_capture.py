"""The simulated capture devices: camera, fingerprint scanner, iris scanner and signature
pad. Captures are real images (drawn by :mod:`hal.synth`), scored by :mod:`hal.quality`
and encoded by :mod:`hal.encode`, exactly as a real backend's would be; what each shows is
staged on their :class:`~hal.backends.sim_control.SimulationControl`.
"""

from __future__ import annotations

from hal.backends.sim_control import SimulationControl, _info, _Simulated
from hal.encode import encode_face, encode_fingerprint, encode_iris, encode_signature
from hal.ports import Camera, FingerprintScanner, IrisScanner, SignaturePad
from hal.quality import face_quality, fingerprint_quality, iris_quality, signature_quality
from hal.types import Capture, Eye, Finger, ImageFormat, Modality


class SimulatedCamera(_Simulated, Camera):
    kind = "camera"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "camera 640x480"))
        self.control, self.delay = control, delay

    def capture_face(self, *, timeout: float = 10.0, birth_year: int | None = None) -> Capture:
        """``birth_year``, when given, stands for the resident's (the backdrop is drawn and
        judged for it); else the subject's from :meth:`SimulationControl.set_subject`."""
        fault = self._begin(timeout)
        c = self.control
        self.control.presentation(self.kind, "face")
        year = birth_year if birth_year is not None else c.birth_year
        frame = c.images().face(year, fault)
        assessment = face_quality(frame, birth_year=year)
        h, w = frame.shape[:2]
        crop = assessment.crop or (0, 0, w, h)
        x, y, cw, ch = crop
        pixels = frame[y:y + ch, x:x + cw].copy()
        c.record(self.kind, "capture", f"face {fault or 'clean'} {assessment.quality.score}")
        return Capture(Modality.FACE, None, encode_face(frame, crop), ImageFormat.JPEG,
                       pixels.shape[1], pixels.shape[0], assessment.quality, self.info,
                       pixels=pixels, warnings=assessment.warnings)


class SimulatedFingerprintScanner(_Simulated, FingerprintScanner):
    kind = "fingerprint"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0,
                 image_format: ImageFormat = ImageFormat.JP2) -> None:
        super().__init__(_info(control, self.kind, "500 ppi single-finger scanner"))
        self.control, self.delay, self.image_format = control, delay, image_format

    def capture(self, finger: Finger, *, timeout: float = 10.0) -> Capture:
        finger = Finger(finger)
        fault = self._begin(timeout)
        c = self.control
        images = c.images()
        n = c.presentation(self.kind, finger.value)
        gray = images.finger(finger, images.rng("impression", finger.value, n, str(fault)), fault)
        quality = fingerprint_quality(gray)
        c.record(self.kind, "capture", f"{finger.value} {fault or 'clean'} {quality.score}")
        return Capture(Modality.FINGER, finger.value,
                       encode_fingerprint(gray, fmt=self.image_format), self.image_format,
                       gray.shape[1], gray.shape[0], quality, self.info, pixels=gray)


class SimulatedIrisScanner(_Simulated, IrisScanner):
    kind = "iris"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "near-infrared iris camera"))
        self.control, self.delay = control, delay

    def capture(self, eye: Eye, *, timeout: float = 10.0) -> Capture:
        eye = Eye(eye)
        fault = self._begin(timeout)
        c = self.control
        images = c.images()
        n = c.presentation(self.kind, eye.value)
        gray = images.eye(eye, images.rng("gaze", eye.value, n, str(fault)), fault)
        quality = iris_quality(gray)
        c.record(self.kind, "capture", f"{eye.value} {fault or 'clean'} {quality.score}")
        return Capture(Modality.IRIS, eye.value, encode_iris(gray), ImageFormat.JP2,
                       gray.shape[1], gray.shape[0], quality, self.info, pixels=gray)


class SimulatedSignaturePad(_Simulated, SignaturePad):
    kind = "signature"

    def __init__(self, control: SimulationControl, *, delay: float = 0.0) -> None:
        super().__init__(_info(control, self.kind, "signature pad 480x160"))
        self.control, self.delay = control, delay

    def capture_signature(self, *, timeout: float = 60.0) -> Capture:
        fault = self._begin(timeout)
        c = self.control
        c.presentation(self.kind, "signature")
        gray = c.images().signature(fault)
        quality = signature_quality(gray)
        c.record(self.kind, "capture", f"signature {fault or 'clean'} {quality.score}")
        return Capture(Modality.SIGNATURE, None, encode_signature(gray), ImageFormat.PNG,
                       gray.shape[1], gray.shape[0], quality, self.info, pixels=gray)
