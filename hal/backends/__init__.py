"""Device backends. Each module imports its vendor library only inside itself (lazily), so
importing one never requires another's hardware; :mod:`hal.registry` picks them.

========================= ============================================================
module                    devices
========================= ============================================================
:mod:`.sim`               every port, simulated (the default for demos and tests)
:mod:`.escpos_receipt`    receipt printers speaking ESC/POS (python-escpos)
:mod:`.gpio`              the kit's LEDs, buzzer and capture button (gpiozero)
:mod:`.opencv_camera`     UVC/V4L2 webcams (OpenCV)
:mod:`.picamera2_camera`  Raspberry Pi cameras (picamera2, probed before import)
:mod:`.sbi`               MOSIP SBI devices over HTTP: fingerprint, iris (signed captures)
:mod:`.libfprint`         consumer fingerprint readers libfprint supports (PyGObject)
:mod:`.cups_printer`      A4 documents through CUPS's ``lp``
:mod:`.evdev_reader`      USB barcode/QR scanners that type like keyboards (evdev)
:mod:`.evdev_signature`   pen tablets and HID signature pads (evdev; not Wacom STU)
========================= ============================================================
"""
