"""Every string the operator UI shows, in Bahasa Indonesia (the default) and English.

One lookup, :meth:`Catalogue.t`, takes a key and named values::

    cat = Catalogue("id")
    cat.t("login.wrong_pin", left=3)   # "PIN salah. Sisa 3 kali lagi sebelum akun dikunci."

Errors from the core and the devices carry a stable ``code`` (``edge.errors``,
``hal.errors``, ``sync.errors``); :meth:`Catalogue.error` turns one into a title and a plain
sentence that says what to do next. Quality reasons from ``hal.quality`` ("blur",
"too_dark", ...) become advice with :meth:`Catalogue.reason`.

No Textual import: the receipt and the tests use the catalogue too. Adding a string means
adding both languages; ``tests/tui/test_catalogue.py`` checks every key the UI uses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from hal.errors import ShownError

LANGUAGES = ("id", "en")

# key: (Bahasa Indonesia, English)
STRINGS: dict[str, tuple[str, str]] = {
    # --- the app ------------------------------------------------------------------------
    "app.title": ("Rekam KTP-el", "Rekam e-KTP"),
    "app.sim_banner": ("SIMULASI", "SIMULATION"),
    "app.idle_logout": ("Anda keluar otomatis: kit tidak dipakai {minutes} menit. Masukkan PIN "
                        "untuk melanjutkan.",
                        "You were logged out: the kit was idle for {minutes} minutes. Enter "
                        "your PIN to go on."),
    "app.unexpected": ("Terjadi kesalahan tak terduga. Coba lagi; jika berulang, hubungi "
                       "teknisi (log: {log}).",
                       "Something unexpected went wrong. Try again; if it happens again, "
                       "call the technician (log: {log})."),
    "lang.name": ("Bahasa Indonesia", "English"),
    "lang.switched": ("Bahasa: Indonesia", "Language: English"),
    # --- keys (binding ids) ---------------------------------------------------------------
    "key.more_keys": ("Tombol lain", "More keys"),
    "key.language": ("English", "Indonesia"),
    "key.login": ("Masuk", "Log in"),
    "key.logout": ("Keluar", "Log out"),
    "key.find": ("Cari warga", "Find resident"),
    "key.call_next": ("Panggil antrean", "Call next"),
    "key.sync": ("Kirim data", "Send data"),
    "key.place": ("Lokasi", "Location"),
    "key.technician": ("Teknisi", "Technician"),
    "key.save": ("Simpan", "Save"),
    "key.back": ("Kembali", "Back"),
    "key.pick": ("Pilih", "Choose"),
    "key.scan": ("Pindai QR", "Scan QR"),
    "key.rw": ("Saring RW", "Filter by RW"),
    "key.confirm_identity": ("Data benar, mulai", "Correct, start"),
    "key.capture": ("Ambil", "Capture"),
    "key.capture_again": ("Ambil lagi", "Capture again"),
    "key.next_step": ("Lanjut", "Next"),
    "key.retry": ("Ulangi", "Retry"),
    "key.retry_device": ("Coba lagi", "Try again"),
    "key.exception": ("Pengecualian", "Exception"),
    "key.select": ("Pilih jari/mata", "Select"),
    "key.step_back": ("Langkah sebelumnya", "Previous step"),
    "key.cancel": ("Batal", "Cancel"),
    "key.stop": ("Berhenti", "Stop"),
    "key.seal": ("Segel & cetak", "Seal & print"),
    "key.reprint": ("Cetak ulang", "Print again"),
    "key.skip_print": ("Tanpa cetak", "Skip receipt"),
    "key.next_resident": ("Warga berikutnya", "Next resident"),
    "key.send_now": ("Kirim sekarang", "Send now"),
    "key.refresh": ("Muat ulang", "Refresh"),
    "key.self_test": ("Tes perangkat", "Test devices"),
    "key.yes": ("Ya", "Yes"),
    "key.no": ("Tidak", "No"),
    "key.approve": ("Setujui", "Approve"),
    "key.close": ("Tutup", "Close"),
    "key.scroll": ("Gulir", "Scroll"),
    "key.next_field": ("Kolom berikut", "Next field"),
    # --- status bar -------------------------------------------------------------------------
    "dev.camera": ("Kamera", "Camera"),
    "dev.fingerprint": ("Sidik jari", "Fingerprint"),
    "dev.iris": ("Iris", "Iris"),
    "dev.signature": ("Tanda tangan", "Signature"),
    "dev.code_reader": ("Pemindai QR", "QR reader"),
    "dev.receipt_printer": ("Printer", "Printer"),
    "devnoun.camera": ("Kamera", "camera"),
    "devnoun.fingerprint": ("Pemindai sidik jari", "fingerprint scanner"),
    "devnoun.iris": ("Alat iris", "iris camera"),
    "devnoun.signature": ("Bantalan tanda tangan", "signature pad"),
    "devnoun.code_reader": ("Pemindai QR", "QR reader"),
    "devnoun.receipt_printer": ("Printer tanda terima", "receipt printer"),
    "devnoun.document_printer": ("Printer dokumen", "document printer"),
    "devnoun.indicators": ("Lampu dan tombol kit", "kit lights and button"),
    "devnoun.generic": ("Perangkat", "device"),
    "devshort.camera": ("KAM", "CAM"),
    "devshort.fingerprint": ("SJ", "FP"),
    "devshort.iris": ("IRIS", "IRIS"),
    "devshort.signature": ("TTD", "SIG"),
    "devshort.code_reader": ("QR", "QR"),
    "devshort.receipt_printer": ("PRN", "PRN"),
    "status.power.mains": ("Listrik", "Mains"),
    "status.power.battery": ("Daya {percent}%", "Batt {percent}%"),
    "status.power.battery_low": ("DAYA {percent}%!", "BATT {percent}%!"),
    "status.power.undervoltage": ("DAYA KURANG!", "LOW VOLTAGE!"),
    "status.disk": ("Disk {free}", "Disk {free}"),
    "status.disk_low": ("DISK PENUH {free}", "DISK FULL {free}"),
    "status.link.up": ("Jaringan ada", "Network up"),
    "status.link.down": ("Tanpa jaringan", "No network"),
    "status.link.hq_unreachable": ("Pusat tak terjangkau sejak {since}",
                                   "HQ unreachable since {since}"),
    "status.link.hq_connected": ("Terhubung ke pusat", "Connected to HQ"),
    "status.waiting": ("{n} menunggu kirim", "{n} waiting to send"),
    "status.waiting_none": ("Semua terkirim", "All sent"),
    "status.device_fault": ("{device}: {problem}", "{device}: {problem}"),
    "status.loading": ("Memeriksa perangkat…", "Checking devices…"),
    "devstate.ok": ("siap", "ready"),
    "devstate.unplugged": ("terlepas", "unplugged"),
    "devstate.missing": ("tidak ada", "missing"),
    "devstate.paper_out": ("kertas habis", "paper out"),
    "devstate.printer_offline": ("mati", "offline"),
    "devstate.closed": ("tertutup", "closed"),
    "devstate.simulated": ("simulasi", "simulated"),
    "devstate.error": ("bermasalah", "faulty"),
    # --- login ------------------------------------------------------------------------------
    "login.title": ("Masuk petugas", "Operator log in"),
    "login.intro": ("Masukkan ID petugas dan PIN Anda.", "Enter your operator ID and PIN."),
    "login.operator": ("ID petugas", "Operator ID"),
    "login.pin": ("PIN (6–12 angka)", "PIN (6–12 digits)"),
    "login.checking": ("Memeriksa PIN…", "Checking the PIN…"),
    "login.need_both": ("Isi ID petugas dan PIN.", "Fill in the operator ID and the PIN."),
    "login.wrong_pin": ("PIN salah. Sisa {left} kali lagi sebelum akun dikunci.",
                        "Wrong PIN. {left} more tries before the account locks."),
    "login.wrong_pin_last": ("PIN salah. Satu kali lagi salah, akun dikunci.",
                             "Wrong PIN. One more wrong try locks the account."),
    "login.locked": ("Akun {operator} dikunci sampai {until} — {left} lagi. Tunggu, atau minta "
                     "supervisor membuka kuncinya.",
                     "Account {operator} is locked until {until} — {left} to go. Wait, or ask a "
                     "supervisor to unlock it."),
    "login.unlocked": ("Kunci sudah dibuka. Silakan coba lagi.",
                       "The lock has expired. Try again."),
    "login.unknown": ("ID petugas tidak dikenal. Periksa ejaannya.",
                      "Unknown operator ID. Check the spelling."),
    "login.disabled": ("Akun ini dinonaktifkan. Hubungi supervisor.",
                       "This account is disabled. Ask a supervisor."),
    "login.worklist_applied": ("Daftar warga baru dari pusat dipasang: {n} warga.",
                               "New resident list from HQ installed: {n} residents."),
    "login.worklist_rejected": ("Daftar warga baru dari pusat ditolak: {reason}",
                                "New resident list from HQ refused: {reason}"),
    "login.device": ("Kit {device}", "Kit {device}"),
    # --- service point ----------------------------------------------------------------------
    "place.title": ("Lokasi layanan hari ini", "Today's service point"),
    "place.intro": ("Di mana kit dipakai hari ini? Pilih jenis tempat, kelurahan dan RW.",
                    "Where is the kit today? Choose the kind of place, kelurahan and RW."),
    "place.type": ("Jenis tempat", "Kind of place"),
    "place.type.balai_rw": ("Balai RW", "RW hall"),
    "place.type.school": ("Sekolah", "School"),
    "place.type.home_visit": ("Kunjungan rumah", "Home visit"),
    "place.kelurahan": ("Kelurahan", "Kelurahan"),
    "place.rw": ("RW (angka)", "RW (number)"),
    "place.name": ("Nama tempat", "Name of the place"),
    "place.name_hint": ("mis. Balai RW 005, SMAN 1 Bekasi",
                        "e.g. Balai RW 005, SMAN 1 Bekasi"),
    "place.schedule": ("Jadwal dari pusat", "Schedule from HQ"),
    "place.no_schedule": ("Belum ada jadwal dari pusat untuk kit ini.",
                          "HQ has sent no schedule for this kit."),
    "place.today_mark": ("HARI INI", "TODAY"),
    "place.need_name": ("Isi nama tempat.", "Fill in the name of the place."),
    "place.need_rw": ("RW harus angka, mis. 5 atau 005.", "RW is a number, e.g. 5 or 005."),
    "place.saved": ("Lokasi disimpan: {name}", "Service point saved: {name}"),
    "place.use_schedule": ("Isian diambil dari jadwal hari ini.",
                           "Filled in from today's schedule."),
    # --- home -------------------------------------------------------------------------------
    "home.title": ("Beranda", "Home"),
    "home.operator": ("Petugas: {name} ({role})", "Operator: {name} ({role})"),
    "home.place": ("Lokasi: {place}", "Location: {place}"),
    "home.place_unset": ("Lokasi belum diisi — tekan L.", "No location yet — press L."),
    "home.today": ("Hari ini", "Today"),
    "home.recorded": ("Sudah direkam", "Recorded"),
    "home.waiting": ("Menunggu kirim", "Waiting to send"),
    "home.queue": ("Antrean", "Queue"),
    "home.called": ("Dipanggil", "Serving"),
    "home.called_none": ("belum ada", "none yet"),
    "home.queue_hint": ("Tekan N untuk memanggil nomor berikutnya.",
                        "Press N to call the next number."),
    "home.expected": ("Warga diundang", "Invited residents"),
    "home.expected_line": ("Daftar kit: {total} warga, {done} sudah direkam, {left} belum.",
                           "Kit roster: {total} residents, {done} recorded, {left} to go."),
    "home.expected_rw": ("RW {rw}", "RW {rw}"),
    "home.expected_all": ("semua RW", "all RWs"),
    "home.expected_left": ("{n} belum direkam", "{n} not yet recorded"),
    "home.expected_more": ("…dan {n} lagi (Enter: daftar lengkap di Cari warga)",
                           "…and {n} more (Enter: the full list in Find)"),
    "home.technician_only": ("Layar teknisi hanya untuk teknisi: minta teknisi masuk dengan "
                             "ID dan PIN-nya.",
                             "The technician screen is for technicians only: ask one to log "
                             "in with their ID and PIN."),
    "home.expected_done": ("Semua warga yang diundang sudah direkam.",
                           "Every invited resident has been recorded."),
    "home.expected_hint": ("Enter lalu panah bawah untuk memilih dari daftar ini.",
                           "Enter, then the down arrow, to pick from this list."),
    "home.schedule_today": ("Jadwal hari ini: {place}, RW {rw}",
                            "Today's schedule: {place}, RW {rw}"),
    "home.schedule_none": ("Tidak ada jadwal dari pusat untuk hari ini.",
                           "No schedule from HQ for today."),
    "home.start_hint": ("Tekan Enter untuk mencari warga (pindai undangan, NIK, atau nama).",
                        "Press Enter to find a resident (scan the invitation, NIK or name)."),
    "home.called_now": ("Silakan panggil nomor {n}.", "Call number {n}."),
    "home.roster_missing": ("Belum ada daftar warga di kit ini. Hubungi teknisi.",
                            "This kit has no resident list yet. Call the technician."),
    "home.roster_expired": ("Daftar warga sudah kedaluwarsa ({when}). Kirim data dan minta "
                            "daftar baru.",
                            "The resident list expired ({when}). Sync to get a new one."),
    "home.logout_title": ("Keluar?", "Log out?"),
    "home.logout_question": ("Petugas berikutnya masuk dengan ID dan PIN-nya sendiri.",
                             "The next operator logs in with their own ID and PIN."),
    "home.disk_low": ("Ruang penyimpanan hampir penuh: kirim data ke pusat sekarang.",
                      "Storage is nearly full: send data to HQ now."),
    "role.operator": ("operator", "operator"),
    "role.supervisor": ("supervisor", "supervisor"),
    "role.technician": ("teknisi", "technician"),
    # --- find -------------------------------------------------------------------------------
    "find.title": ("Cari warga", "Find resident"),
    "find.expected": ("Warga diundang yang belum direkam di sini. Panah bawah/atas lalu Enter, "
                      "atau ketik untuk mencari.",
                      "Invited residents not yet recorded here. Arrows then Enter, or type "
                      "to search."),
    "find.intro": ("Pindai QR undangan, atau ketik NIK / kode undangan / nama.",
                   "Scan the invitation QR, or type the NIK, invitation code or name."),
    "find.query": ("NIK, kode undangan atau nama", "NIK, invitation code or name"),
    "find.rw_filter": ("Hanya RW {rw}", "Only RW {rw}"),
    "find.all_rw": ("Mencari di semua RW", "Searching all RWs"),
    "find.key_all_rw": ("Semua RW", "All RWs"),
    "find.scope_expected": ("Diundang, {where}, belum direkam: {n}",
                            "Invited, {where}, not yet recorded: {n}"),
    "find.more": ("…dan {n} lagi: ketik nama untuk mencarinya.",
                  "…and {n} more: type a name to find them."),
    "find.scanning": ("Pemindai QR siap — arahkan undangan ke pemindai.",
                      "QR reader ready — hold the invitation under it."),
    "find.scan_unavailable": ("Pemindai QR tidak tersedia: {reason} Ketik NIK atau nama.",
                              "QR reader unavailable: {reason} Type the NIK or name."),
    "find.scanned_unknown": ("Kode {code} tidak ada di daftar kit ini. Cari dengan NIK atau "
                             "nama.",
                             "Code {code} is not on this kit's list. Search by NIK or name."),
    "find.reading_invitation": ("Membaca QR undangan… (pemindai mengakhirinya dengan Enter)",
                                "Reading the invitation QR… (the scanner ends it with Enter)"),
    "find.no_results": ("Tidak ditemukan. Periksa ejaan, atau coba nama depan saja.",
                        "Nothing found. Check the spelling, or try the first name only."),
    "find.no_results_rw": ("Tidak ditemukan di RW {rw}. Tekan F3 untuk mencari di semua RW.",
                           "Not found in RW {rw}. Press F3 to search every RW."),
    "find.partial_nik": ("NIK harus 16 angka ({n} diketik).", "A NIK has 16 digits ({n} typed)."),
    "find.results": ("{n} hasil", "{n} results"),
    "find.col.name": ("Nama", "Name"),
    "find.col.nik": ("NIK", "NIK"),
    "find.col.born": ("Lahir", "Born"),
    "find.col.rtrw": ("RT/RW", "RT/RW"),
    "find.col.state": ("Status", "State"),
    "find.enrolled": ("sudah", "done"),
    "find.not_enrolled": ("belum", "to do"),
    "find.already": ("{name} sudah direkam di kit ini. Tidak perlu direkam lagi.",
                     "{name} was already recorded on this kit. No need to record again."),
    # --- confirm identity -------------------------------------------------------------------
    "who.title": ("Periksa data warga", "Check the resident's details"),
    "who.ask": ("Cocokkan dengan warga di depan Anda (dan undangannya).",
                "Compare with the resident in front of you (and the invitation)."),
    "who.name": ("Nama", "Name"),
    "who.nik": ("NIK", "NIK"),
    "who.sex": ("Jenis kelamin", "Sex"),
    "who.sex.L": ("Laki-laki", "Male"),
    "who.sex.P": ("Perempuan", "Female"),
    "who.birth": ("Tempat, tgl lahir", "Born"),
    "who.address": ("Alamat", "Address"),
    "who.rtrw": ("RT/RW", "RT/RW"),
    "who.kelurahan": ("Kelurahan", "Kelurahan"),
    "who.invitation": ("Kode undangan", "Invitation code"),
    "who.starting": ("Menyiapkan perekaman…", "Getting the recording ready…"),
    # --- capture ---------------------------------------------------------------------------
    "step.face": ("Wajah", "Face"),
    "step.signature": ("Tanda tangan", "Signature"),
    "step.fingerprints": ("Sidik jari", "Fingerprints"),
    "step.irises": ("Iris", "Irises"),
    "step.verification": ("Verifikasi", "Verification"),
    "step.review": ("Periksa & segel", "Review & seal"),
    "cap.title": ("Perekaman: {name}", "Recording: {name}"),
    "cap.background_red": ("LATAR MERAH", "RED BACKDROP"),
    "cap.background_blue": ("LATAR BIRU", "BLUE BACKDROP"),
    "cap.background_why": ("tahun lahir {year} ({parity})", "born {year} ({parity})"),
    "cap.odd": ("ganjil", "odd"),
    "cap.even": ("genap", "even"),
    "cap.face_prompt": ("Minta warga duduk tegak menghadap kamera, lalu tekan Enter.",
                        "Ask the resident to sit up and face the camera, then press Enter."),
    "cap.signature_prompt": ("Minta warga tanda tangan di bantalan, lalu tekan Enter. Yang "
                             "tidak bisa tanda tangan boleh menggores satu garis.",
                             "Ask the resident to sign on the pad, then press Enter. Someone "
                             "who cannot sign may draw one line."),
    "cap.finger_prompt": ("Tekan Enter; tempelkan jari sesuai yang disorot pada peta tangan.",
                          "Press Enter; place the finger highlighted on the hand map."),
    "cap.iris_prompt": ("Minta warga melihat ke alat iris tanpa berkedip, lalu tekan Enter.",
                        "Ask the resident to look into the iris camera without blinking, "
                        "then press Enter."),
    "cap.verify_prompt": ("Verifikasi: tempelkan lagi kedua jari telunjuk. Tekan Enter.",
                          "Verification: place both index fingers again. Press Enter."),
    "cap.place_now": ("Tempelkan: {what}", "Place now: {what}"),
    "cap.look_now": ("Sekarang: {what}", "Now: {what}"),
    "cap.waiting_device": ("Menunggu {device}…", "Waiting for the {device}…"),
    "cap.quality": ("Kualitas", "Quality"),
    "cap.threshold": ("batas lulus {t}", "pass mark {t}"),
    "cap.passed": ("LULUS", "PASSED"),
    "cap.failed": ("KURANG", "TOO LOW"),
    "cap.attempt": ("Percobaan {n} dari {max}", "Attempt {n} of {max}"),
    "cap.retry_left": ("Ulangi: masih {left} kesempatan. Tekan Enter.",
                       "Try again: {left} tries left. Press Enter."),
    "cap.kept_best": ("Kesempatan habis: hasil terbaik ({score}) disimpan dan ditandai. Enter "
                      "lanjut, R ulangi, E pengecualian.",
                      "No tries left: the best result ({score}) is kept and flagged. Enter "
                      "goes on, R retries, E records an exception."),
    "cap.step_done": ("{step} selesai. Tekan Enter untuk lanjut.",
                      "{step} done. Press Enter to go on."),
    "cap.step_done_auto": ("{step} selesai ({score}).", "{step} done ({score})."),
    "cap.step_done_many": ("{step} selesai: {n} baik.", "{step} done: {n} good."),
    "cap.history": ("Percobaan", "Attempts"),
    "cap.history_none": ("belum ada", "none yet"),
    "cap.match": ("Cocok dengan rekaman: {score}", "Matches the enrolled print: {score}"),
    "cap.no_match": ("Tidak cocok dengan sidik jari yang direkam ({score}). Pastikan jari yang "
                     "sama, lalu ulangi.",
                     "Does not match the enrolled print ({score}). Make sure it is the same "
                     "finger, then retry."),
    "cap.device_error": ("Perangkat bermasalah", "Device problem"),
    "cap.selected": ("Dipilih: {what}", "Selected: {what}"),
    "cap.hand_left": ("TANGAN KIRI", "LEFT HAND"),
    "cap.hand_right": ("TANGAN KANAN", "RIGHT HAND"),
    "cap.eye_left": ("Mata kiri", "Left eye"),
    "cap.eye_right": ("Mata kanan", "Right eye"),
    "cap.state.pending": ("belum", "to do"),
    "cap.state.busy": ("ambil…", "taking…"),
    "cap.state.ok": ("baik", "good"),
    "cap.state.retry": ("ulangi", "retry"),
    "cap.state.low": ("rendah", "low"),
    "cap.state.exception": ("dikecual.", "excepted"),
    "cap.state.not_matched": ("tdk cocok", "no match"),
    "cap.slot_detail": ("{what}: skor {score}, {attempts} percobaan",
                        "{what}: score {score}, {attempts} attempts"),
    "cap.slot_detail_none": ("{what}: belum diambil", "{what}: not captured yet"),
    "cap.slot_exception": ("{what}: pengecualian ({reason}), disetujui {by}",
                           "{what}: exception ({reason}), approved by {by}"),
    "cap.exception_not_here": ("Pengecualian hanya untuk sidik jari dan iris.",
                               "Exceptions are only for fingerprints and irises."),
    "cap.exception_done": ("Pengecualian dicatat: {what} ({reason}), disetujui {by}.",
                           "Exception recorded: {what} ({reason}), approved by {by}."),
    "cap.cancel_title": ("Batalkan perekaman?", "Cancel this recording?"),
    "cap.cancel_question": ("Semua hasil perekaman {name} akan dihapus dan tidak dikirim.",
                            "Every capture of {name} is discarded and nothing is sent."),
    "cap.back_title": ("Kembali ke data warga?", "Back to the resident's details?"),
    "cap.back_question": ("Perekaman ini dibatalkan dan hasilnya dihapus.",
                          "This recording is cancelled and its captures discarded."),
    "cap.cancelled": ("Perekaman dibatalkan. Tidak ada data yang disimpan.",
                      "Recording cancelled. Nothing was stored."),
    "cap.back_to": ("Kembali ke langkah {step}. Hasil sebelumnya tetap disimpan.",
                    "Back to {step}. Earlier captures are kept."),
    "cap.missing": ("Belum selesai: {what}.", "Not finished yet: {what}."),
    # --- fingers and eyes -------------------------------------------------------------------
    "finger.thumb": ("Jempol", "Thumb"),
    "finger.index": ("Telunjuk", "Index"),
    "finger.middle": ("Tengah", "Middle"),
    "finger.ring": ("Manis", "Ring"),
    "finger.little": ("Kelingking", "Little"),
    "fingershort.thumb": ("Jempol", "Thumb"),
    "fingershort.index": ("Telunj.", "Index"),
    "fingershort.middle": ("Tengah", "Middle"),
    "fingershort.ring": ("Manis", "Ring"),
    "fingershort.little": ("Keling.", "Little"),
    "side.right": ("kanan", "right"),
    "side.left": ("kiri", "left"),
    "finger.name": ("{finger} {side}", "{side} {finger}"),
    "eye.right": ("Mata kanan", "Right eye"),
    "eye.left": ("Mata kiri", "Left eye"),
    "slot.face": ("Wajah", "Face"),
    "slot.signature": ("Tanda tangan", "Signature"),
    "slot.verify": ("Verifikasi {finger}", "Verify {finger}"),
    # --- quality reasons (hal.quality) ------------------------------------------------------
    "reason.face.no_face": ("Wajah tidak terlihat — minta warga menghadap lurus ke kamera.",
                            "No face found — ask the resident to face the camera."),
    "reason.face.multiple_faces": ("Ada lebih dari satu wajah — pastikan hanya warga di depan "
                                   "kamera.",
                                   "More than one face — only the resident in front of the "
                                   "camera."),
    "reason.face.eyes_too_close": ("Wajah terlalu jauh — minta warga mendekat ke kamera.",
                                   "The face is too far — ask the resident to come closer."),
    "reason.face.off_centre": ("Wajah tidak di tengah — minta warga bergeser ke tengah.",
                               "The face is off centre — ask the resident to move to the "
                               "middle."),
    "reason.face.blur": ("Foto kabur — minta warga diam sejenak, lalu ambil lagi.",
                         "The photo is blurred — ask the resident to keep still, then retry."),
    "reason.face.too_dark": ("Wajah terlalu gelap — nyalakan lampu atau hadapkan ke cahaya.",
                             "The face is too dark — turn on a light or face the light."),
    "reason.face.too_bright": ("Wajah terlalu terang — kurangi lampu atau jauhi jendela.",
                               "The face is too bright — dim the light or move from the "
                               "window."),
    "reason.finger.no_finger": ("Jari tidak terbaca — tempelkan jari tepat di kaca pemindai.",
                                "No finger read — place the finger flat on the scanner glass."),
    "reason.finger.partial": ("Jari hanya sebagian — tempelkan jari di tengah dan tekan rata.",
                              "Only part of the finger — centre it and press it flat."),
    "reason.finger.low_contrast": ("Sidik jari kurang jelas — bersihkan jari dan tempelkan "
                                   "lagi.",
                                   "The print is faint — clean the finger and place it again."),
    "reason.finger.smudged": ("Sidik jari tercoreng — bersihkan kaca dan jari, jangan "
                              "digeser.",
                              "The print is smudged — clean the glass and the finger, do not "
                              "slide it."),
    "reason.finger.dry": ("Jari terlalu kering — tiup napas ke jari atau basahi sedikit.",
                          "The finger is too dry — breathe on it or moisten it a little."),
    "reason.finger.wet": ("Jari terlalu basah — lap jari sampai kering.",
                          "The finger is too wet — wipe it dry."),
    "reason.iris.no_iris": ("Mata tidak terlihat — minta warga membuka mata lebar ke alat.",
                            "No eye found — ask the resident to open their eyes wide."),
    "reason.iris.iris_too_small": ("Mata terlalu jauh — minta warga mendekat ke alat iris.",
                                   "The eye is too far — ask the resident to come closer."),
    "reason.iris.off_centre": ("Mata tidak di tengah — minta warga melihat lurus ke alat.",
                               "The eye is off centre — ask the resident to look straight in."),
    "reason.iris.occluded": ("Mata tertutup kelopak atau bulu mata — minta membuka mata "
                             "lebar.",
                             "The iris is covered by the eyelid — ask them to open wide."),
    "reason.iris.blur": ("Gambar mata kabur — minta warga diam dan tidak berkedip.",
                         "The eye image is blurred — ask them to keep still and not blink."),
    "reason.iris.low_contrast": ("Iris kurang jelas — lepas kacamata, lalu ulangi.",
                                 "The iris is faint — remove glasses, then retry."),
    "reason.iris.too_dark": ("Gambar mata terlalu gelap — dekatkan alat ke mata.",
                             "The eye image is too dark — bring the camera closer."),
    "reason.iris.too_bright": ("Gambar mata terlalu terang — jauhi cahaya matahari.",
                               "The eye image is too bright — move out of direct light."),
    "reason.iris.pupil_dilation": ("Pupil terlalu lebar — kurangi gelap ruangan, lalu ulangi.",
                                   "The pupil is dilated — make the room less dark, then "
                                   "retry."),
    "reason.signature.empty": ("Tanda tangan kosong — minta warga menulis di bantalan.",
                               "The signature is empty — ask the resident to sign on the pad."),
    "reason.signature.too_small": ("Tanda tangan terlalu kecil — minta menulis lebih besar.",
                                   "The signature is too small — ask them to sign larger."),
    "reason.signature.smeared": ("Tanda tangan tercoreng — bersihkan bantalan, lalu ulangi.",
                                 "The signature is smeared — clean the pad, then retry."),
    "reason.unknown": ("Kualitas kurang ({code}) — ulangi pengambilan.",
                       "Quality too low ({code}) — capture again."),
    "warning.background_red_expected": ("Latar harus MERAH (tahun lahir ganjil) — pasang kain "
                                        "merah.",
                                        "The backdrop must be RED (odd birth year) — hang the "
                                        "red cloth."),
    "warning.background_blue_expected": ("Latar harus BIRU (tahun lahir genap) — pasang kain "
                                         "biru.",
                                         "The backdrop must be BLUE (even birth year) — hang "
                                         "the blue cloth."),
    "warning.eye_distance_estimated": ("Mata kurang terlihat — lepas kacamata bila ada.",
                                       "The eyes are hard to see — remove glasses if worn."),
    # --- exceptions -------------------------------------------------------------------------
    "exc.title": ("Pengecualian: {what}", "Exception: {what}"),
    "exc.intro": ("Jari atau mata yang tidak bisa direkam dicatat sebagai pengecualian, "
                  "disetujui supervisor dengan PIN-nya.",
                  "A finger or eye that cannot be recorded is recorded as an exception, "
                  "approved by a supervisor with their PIN."),
    "exc.reason": ("Alasan", "Reason"),
    "exc.reason.amputated": ("Tidak ada (amputasi / cacat bawaan)",
                             "Missing (amputated / from birth)"),
    "exc.reason.bandaged": ("Diperban / luka / gips", "Bandaged / wounded / in a cast"),
    "exc.reason.unable": ("Ada tetapi tidak terbaca", "Present but cannot be read"),
    "exc.reason.blind": ("Tunanetra / mata tidak dapat dipindai",
                         "Blind / eye cannot be scanned"),
    "exccell.amputated": ("hilang", "absent"),
    "exccell.bandaged": ("perban", "wound"),
    "exccell.unable": ("rusak", "unread"),
    "exccell.blind": ("netra", "blind"),
    "excshort.amputated": ("tidak ada", "missing"),
    "excshort.bandaged": ("diperban", "bandaged"),
    "excshort.unable": ("tak terbaca", "unreadable"),
    "excshort.blind": ("tunanetra", "blind"),
    "exc.supervisor": ("Supervisor", "Supervisor"),
    "exc.no_supervisor": ("Tidak ada supervisor terdaftar di kit ini. Hubungi teknisi.",
                          "No supervisor is registered on this kit. Call the technician."),
    "exc.pin": ("PIN supervisor", "Supervisor PIN"),
    "exc.note": ("Catatan", "Note"),
    "exc.checking": ("Memeriksa PIN supervisor…", "Checking the supervisor's PIN…"),
    "exc.need_pin": ("Supervisor harus memasukkan PIN-nya.",
                     "The supervisor must enter their PIN."),
    "exc.wrong_pin": ("PIN supervisor salah. Sisa {left} kali lagi sebelum dikunci.",
                      "Wrong supervisor PIN. {left} more tries before the lock."),
    "exc.not_supervisor": ("Yang menyetujui harus supervisor.",
                           "The approver must be a supervisor."),
    # --- review and seal --------------------------------------------------------------------
    "rev.title": ("Periksa dan segel: {name}", "Review and seal: {name}"),
    "rev.intro": ("Periksa hasil. Enter menyegel data (terenkripsi untuk pusat) dan mencetak "
                  "tanda terima.",
                  "Check the results. Enter seals the data (encrypted for HQ) and prints the "
                  "receipt."),
    "rev.col.what": ("Bagian", "Item"),
    "rev.col.state": ("Hasil", "Result"),
    "rev.col.score": ("Skor", "Score"),
    "rev.col.tries": ("Coba", "Tries"),
    "rev.state.ok": ("baik", "good"),
    "rev.state.low_quality": ("rendah (disimpan)", "low (kept)"),
    "rev.state.exception": ("pengecualian: {reason}", "exception: {reason}"),
    "rev.state.not_matched": ("tidak cocok", "no match"),
    "rev.state.missing": ("belum ada", "missing"),
    "rev.summary": ("Baik: {ok} · rendah: {low} · pengecualian: {exc}",
                    "Good: {ok} · low: {low} · exceptions: {exc}"),
    "rev.sealing": ("Menyegel dan menyimpan…", "Sealing and storing…"),
    "rev.sealed": ("Tersegel dan tersimpan: {packet}. Akan dikirim ke pusat otomatis.",
                   "Sealed and stored: {packet}. It goes to HQ automatically."),
    "rev.printing": ("Mencetak tanda terima…", "Printing the receipt…"),
    "rev.printed": ("Tanda terima tercetak. Serahkan kepada warga.",
                    "Receipt printed. Hand it to the resident."),
    "rev.print_failed": ("Tanda terima belum tercetak", "Receipt not printed"),
    "rev.print_skipped": ("Tanpa tanda terima. Data tetap tersimpan.",
                          "No receipt. The data is stored all the same."),
    "rev.done_hint": ("Tekan Enter untuk warga berikutnya.", "Press Enter for the next resident."),
    "rev.seal_failed": ("Gagal menyegel", "Sealing failed"),
    # --- the receipt (always in the resident's language: Indonesian) ------------------------
    "receipt.title": ("TANDA TERIMA REKAM KTP-el", "e-KTP RECORDING RECEIPT"),
    "receipt.name": ("Nama", "Name"),
    "receipt.nik": ("NIK", "NIK"),
    "receipt.date": ("Tanggal", "Date"),
    "receipt.place": ("Lokasi", "Place"),
    "receipt.operator": ("Petugas", "Operator"),
    "receipt.queue": ("No. antrean", "Queue no."),
    "receipt.code": ("Kode rekam", "Record code"),
    "receipt.exceptions": ("Pengecualian", "Exceptions"),
    "receipt.footer": ("Simpan tanda terima ini. Disdukcapil Kota Bekasi akan memberi kabar bila "
                       "KTP-el siap diambil.",
                       "Keep this receipt. Disdukcapil Kota Bekasi will tell you when the "
                       "e-KTP is ready."),
    # --- sync -------------------------------------------------------------------------------
    "sync.title": ("Kirim data ke pusat", "Send data to HQ"),
    "sync.queue": ("Antrean kirim", "Send queue"),
    "sync.state.sealed": ("Menunggu kirim", "Waiting to send"),
    "sync.state.sent": ("Terkirim, menunggu tanda terima pusat",
                        "Sent, waiting for HQ's receipt"),
    "sync.state.acked": ("Diterima pusat", "Received by HQ"),
    "sync.state.purged": ("Diterima & dihapus dari kit", "Received & removed from the kit"),
    "sync.no_network": ("Kit tidak tersambung ke jaringan: periksa modem, SIM dan sinyalnya (atau "
                        "kabel LAN). Data tetap aman di kit dan terkirim sendiri saat jaringan "
                        "ada.",
                        "The kit has no network: check the modem, its SIM and signal (or the "
                        "LAN cable). The data stays safe on the kit and goes by itself once "
                        "there is a network."),
    "sync.received": ("Diterima pusat: hari ini [b]{today}[/b] · semuanya [b]{total}[/b]",
                      "Received by HQ: today [b]{today}[/b] · in all [b]{total}[/b]"),
    "sync.last_contact": ("Kontak terakhir dengan pusat: {when}",
                          "Last contact with HQ: {when}"),
    "sync.never": ("belum pernah", "never"),
    "sync.oldest": ("Data tertua yang menunggu: {when}", "Oldest waiting: {when}"),
    "sync.last_error": ("Masalah terakhir: {text}", "Last problem: {text}"),
    "sync.no_error": ("Tidak ada masalah tercatat.", "No problem recorded."),
    "sync.broker": ("Server pusat: {broker}", "HQ server: {broker}"),
    "sync.no_broker": ("Alamat server pusat belum diatur — \"Kirim sekarang\" tidak bisa "
                       "dipakai. Hubungi teknisi.",
                       "The HQ server address is not set — \"Send now\" cannot work. Call "
                       "the technician."),
    "sync.auto": ("Data dikirim otomatis bila ada jaringan. \"Kirim sekarang\" mencoba saat ini "
                  "juga.",
                  "Data goes out automatically when there is a network. \"Send now\" tries "
                  "right away."),
    "sync.daemon.connected": ("Pengiriman otomatis: tersambung ke pusat.",
                              "Automatic sending: connected to HQ."),
    "sync.daemon.starting": ("Pengiriman otomatis: sedang menyambung…",
                             "Automatic sending: connecting…"),
    "sync.daemon.retrying": ("Pengiriman otomatis: belum tersambung, mencoba lagi pukul "
                             "{when}.",
                             "Automatic sending: not connected, trying again at {when}."),
    "sync.daemon.none": ("Pengiriman otomatis tidak berjalan di kit ini; \"Kirim sekarang\" "
                         "mengirim langsung.",
                         "Automatic sending is not running on this kit; \"Send now\" sends "
                         "directly."),
    "sync.sending": ("Mengirim… (bisa sampai {seconds} detik)", "Sending… (up to {seconds} s)"),
    "sync.result": ("{sent} dikirim, {acked} diterima pusat, {waiting} masih menunggu.",
                    "{sent} sent, {acked} received by HQ, {waiting} still waiting."),
    "sync.col.packet": ("Paket", "Packet"),
    "sync.col.state": ("Status", "State"),
    "sync.col.size": ("Ukuran", "Size"),
    "sync.col.created": ("Dibuat", "Created"),
    # --- technician -------------------------------------------------------------------------
    "tech.title": ("Teknisi", "Technician"),
    "tech.kit": ("Kit", "Kit"),
    "tech.versions": ("Versi: rekam {rekam}, Textual {textual}, Python {python}",
                      "Versions: rekam {rekam}, Textual {textual}, Python {python}"),
    "tech.keys": ("Kunci: perangkat {device} · pusat tanda tangan {signing} · pusat segel "
                  "{sealing}",
                  "Keys: device {device} · HQ signing {signing} · HQ sealing {sealing}"),
    "tech.roster": ("Daftar warga: versi {version}, {size} warga, kedaluwarsa {expires}",
                    "Roster: version {version}, {size} residents, expires {expires}"),
    "tech.disk": ("Disk bebas {free} MB · operator {operators} · HAL {hal} · server {broker}",
                  "Free disk {free} MB · operators {operators} · HAL {hal} · broker {broker}"),
    "tech.audit_ok": ("Log audit utuh: {n} entri", "Audit log intact: {n} entries"),
    "tech.audit_broken": ("LOG AUDIT RUSAK: {problem}", "AUDIT LOG BROKEN: {problem}"),
    "tech.devices": ("Perangkat (uji mandiri)", "Devices (self-test)"),
    "tech.readiness": ("Kesiapan (rekam doctor)", "Readiness (rekam doctor)"),
    "tech.col.device": ("Perangkat", "Device"),
    "tech.col.state": ("Tes", "Test"),
    "tech.col.model": ("Model", "Model"),
    "tech.col.serial": ("Seri", "Serial"),
    "tech.col.backend": ("Backend", "Backend"),
    "tech.audit": ("Log audit terbaru", "Recent audit log"),
    "tech.col.at": ("Waktu (WIB)", "Time (WIB)"),
    "tech.col.actor": ("Oleh", "By"),
    "tech.col.action": ("Tindakan", "Action"),
    "tech.col.detail": ("Rincian", "Detail"),
    "tech.loading": ("Menjalankan pemeriksaan…", "Running the checks…"),
    # the audit log's actions, as the Technician screen names them
    "audit.login": ("Masuk", "Logged in"),
    "audit.approval": ("Persetujuan supervisor", "Supervisor approval"),
    "audit.approval_refused": ("Persetujuan ditolak", "Approval refused"),
    "audit.config_applied": ("Pengaturan dari pusat dipakai", "HQ's settings applied"),
    "audit.config_changed": ("Pengaturan diubah", "Setting changed"),
    "audit.config_refused": ("Pengaturan dari pusat ditolak", "HQ's settings refused"),
    "audit.enrolment_cancelled": ("Perekaman dibatalkan", "Recording cancelled"),
    "audit.enrolment_sealed": ("Perekaman disegel", "Recording sealed"),
    "audit.enrolment_started": ("Perekaman dimulai", "Recording started"),
    "audit.idle_logout": ("Keluar otomatis (tidak dipakai)", "Logged out (idle)"),
    "audit.invitation_refused": ("Undangan ditolak", "Invitation refused"),
    "audit.lockout": ("Petugas terkunci", "Operator locked out"),
    "audit.login_failed": ("PIN salah", "Wrong PIN"),
    "audit.login_refused": ("Masuk ditolak", "Login refused"),
    "audit.operator_added": ("Petugas ditambahkan", "Operator added"),
    "audit.operator_disabled": ("Petugas dinonaktifkan", "Operator disabled"),
    "audit.operator_unlocked": ("Kunci petugas dibuka", "Operator unlocked"),
    "audit.pin_changed": ("PIN diganti", "PIN changed"),
    "audit.roster_imported": ("Daftar warga diimpor", "Roster imported"),
    "audit.service_point_set": ("Lokasi layanan diatur", "Service point set"),
    "audit.usb_export": ("Data disalin ke USB", "Exported to USB"),
    "audit.usb_receipt": ("Tanda terima pusat dari USB", "HQ's receipt from USB"),
    "audit.wipe": ("Kit dikosongkan", "Kit wiped"),
    "audit.worklist_refused": ("Daftar dari pusat ditolak", "Worklist from HQ refused"),
    "audit.worklist_staged": ("Daftar dari pusat diterima", "Worklist from HQ received"),
    "audit.worklist_key_wrapped": ("Kunci daftar warga dibuka untuk petugas",
                                   "Worklist key opened for an operator"),
    "audit.worklist_shredded": ("Daftar dari pusat dihapus", "Worklist from HQ shredded"),
    "audit.roster_wiped": ("Daftar warga dihapus", "Roster wiped"),
    "audit.simulated_devices_refused": ("Perangkat simulasi ditolak",
                                        "Simulated devices refused"),
    "tech.not_allowed": ("Layar teknisi hanya untuk peran teknisi.",
                         "The technician screen needs the technician role."),
    "tech.test_ok": ("lulus", "pass"),
    "tech.test_fail": ("GAGAL: {detail}", "FAIL: {detail}"),
    "tech.none": ("(tidak ada)", "(none)"),
    # --- dialogs ----------------------------------------------------------------------------
    "dlg.error_title": ("Ada masalah", "There is a problem"),
    "dlg.ok": ("Mengerti", "OK"),
    # --- durations and dates ----------------------------------------------------------------
    "time.minutes": ("{n} menit", "{n} min"),
    "time.seconds": ("{n} detik", "{n} s"),
    "time.ago": ("{when} ({ago} lalu)", "{when} ({ago} ago)"),
    "time.hours": ("{n} jam", "{n} h"),
    "time.days": ("{n} hari", "{n} days"),
    # --- errors by code (edge.errors, hal.errors, sync.errors) ------------------------------
    "err.title.device": ("Perangkat bermasalah", "Device problem"),
    "err.title.auth": ("Tidak diizinkan", "Not allowed"),
    "err.title.data": ("Data bermasalah", "Data problem"),
    "err.title.link": ("Jaringan bermasalah", "Network problem"),
    "err.title.general": ("Ada masalah", "There is a problem"),
    "err.error": ("Terjadi kesalahan: {message}. Coba lagi; jika berulang, hubungi teknisi.",
                  "Something went wrong: {message}. Try again; if it happens again, call the "
                  "technician."),
    "err.invalid_input": ("Isian tidak bisa dipakai: {message}", "That input cannot be used: "
                          "{message}"),
    "err.invalid_nik": ("NIK tidak sah: harus 16 angka dengan tanggal lahir yang benar.",
                        "Invalid NIK: 16 digits with a valid birth date."),
    "err.not_found": ("Tidak ditemukan di daftar kit ini.", "Not found on this kit's list."),
    "err.already_exists": ("Sudah ada.", "Already exists."),
    "err.not_provisioned": ("Kit belum disiapkan. Hubungi teknisi.",
                            "This kit is not set up yet. Call the technician."),
    "err.auth": ("Tidak diizinkan.", "Not allowed."),
    "err.wrong_pin": ("PIN salah. Sisa {attempts_left} kali lagi.",
                      "Wrong PIN. {attempts_left} more tries."),
    "err.locked_out": ("Akun dikunci sementara. Coba lagi nanti.",
                       "The account is locked for now. Try later."),
    "err.not_allowed": ("Peran Anda tidak boleh melakukan ini.",
                        "Your role may not do this."),
    "err.operator_disabled": ("Akun ini dinonaktifkan. Hubungi supervisor.",
                              "This account is disabled. Ask a supervisor."),
    "err.integrity": ("Data di kit rusak atau telah diubah. Jangan lanjutkan; hubungi teknisi.",
                      "Data on the kit is damaged or was altered. Stop and call the "
                      "technician."),
    "err.document_rejected": ("Daftar dari pusat ditolak (kedaluwarsa, versi lama, atau bukan "
                              "untuk kit ini). Hubungi teknisi.",
                              "A document from HQ was refused (expired, older, or not for this "
                              "kit). Call the technician."),
    "err.worklist_expired": ("Daftar warga dari pusat sudah kedaluwarsa sejak {expired}: "
                             "pencarian dan perekaman ditolak sampai pusat mengirim daftar "
                             "baru (kirim data untuk menerimanya). Daftar di kit ini dihapus "
                             "pada {wipe}.",
                             "The resident list from HQ expired on {expired}: search and "
                             "recording are refused until HQ sends a new one (send data to "
                             "receive it). The list on this kit is wiped on {wipe}."),
    "err.roster_wiped": ("Daftar warga dari pusat kedaluwarsa sejak {expired} dan sudah dihapus "
                         "dari kit ini pada {wipe}: pencarian dan perekaman ditolak sampai "
                         "pusat mengirim daftar baru.",
                         "The resident list from HQ expired on {expired} and was wiped from "
                         "this kit on {wipe}: search and recording are refused until HQ "
                         "sends a new one."),
    "err.workflow": ("Langkah ini belum bisa dilakukan: {message}",
                     "This step cannot be done yet: {message}"),
    "err.already_enrolled": ("Warga ini sudah direkam di kit ini. Tidak perlu direkam lagi.",
                             "This resident was already recorded on this kit."),
    "err.insufficient_disk": ("Ruang penyimpanan hampir penuh. Kirim data ke pusat dulu (tombol "
                              "S di Beranda), lalu coba lagi.",
                              "Storage is nearly full. Send data to HQ first (S on Home), then "
                              "try again."),
    "err.approval_required": ("Perlu persetujuan supervisor dengan PIN.",
                              "A supervisor must approve with their PIN."),
    "err.storage": ("Gagal menyimpan di kit (penyimpanan). Hubungi teknisi.",
                    "Could not store on the kit. Call the technician."),
    "err.invitation_refused": ("Undangan ditolak: {message}. Cari warga dengan NIK atau nama.",
                               "Invitation refused: {message}. Find the resident by NIK or "
                               "name."),
    "err.invitation_malformed": ("QR undangan tidak terbaca utuh (rusak, terlipat, atau bukan "
                                 "undangan Rekam). Pindai lagi, atau ketik kode undangan yang "
                                 "tercetak di surat.",
                                 "The invitation QR did not read whole (damaged, folded, or not "
                                 "a Rekam invitation). Scan again, or type the invitation code "
                                 "printed on the letter."),
    "err.invitation_forged": ("Undangan DITOLAK: tanda tangan Disdukcapil pada QR tidak sah — "
                              "surat ini dipalsukan atau diubah. Jangan layani dengan surat "
                              "ini; cari warga dengan NIK dan laporkan ke supervisor.",
                              "Invitation REFUSED: the Disdukcapil signature in the QR does "
                              "not verify — this letter was forged or altered. Do not serve on "
                              "it; find the resident by NIK and tell the supervisor."),
    "err.invitation_expired": ("Undangan sudah kedaluwarsa (berlaku sampai {valid_until}). Warga "
                               "tetap boleh direkam: cari dengan NIK atau nama.",
                               "The invitation has expired (valid until {valid_until}). The "
                               "resident may still be recorded: find them by NIK or name."),
    "err.invitation_other_area": ("Undangan ini untuk Kelurahan {kelurahan}, bukan wilayah kit "
                                  "ini. Arahkan warga ke layanan di kelurahannya.",
                                  "This invitation is for Kelurahan {kelurahan}, not this kit's "
                                  "area. Direct the resident to the service in their "
                                  "kelurahan."),
    "err.invitation_not_on_roster": ("Undangan sah, tetapi warga ini tidak ada di daftar kit "
                                     "(mungkin pindah, atau daftar kit belum diperbarui). Cari "
                                     "dengan NIK; jika tetap tidak ada, hubungi supervisor.",
                                     "The invitation is genuine but the resident is not on this "
                                     "kit's list (moved, or the kit's list is older). Search by "
                                     "NIK; if still not found, ask the supervisor."),
    "err.hal": ("{device} bermasalah. Periksa kabel dan daya, lalu coba lagi.",
                "The {device} has a problem. Check its cable and power, then try again."),
    "err.device_not_found": ("{device} tidak ditemukan. Periksa kabelnya, lalu coba lagi.",
                             "The {device} is not found. Check its cable, then try again."),
    "err.device_unplugged": ("{device} terlepas. Pasang lagi kabelnya, lalu tekan Enter untuk "
                             "mencoba lagi.",
                             "The {device} is unplugged. Plug it back in, then press Enter to "
                             "try again."),
    "err.device_busy": ("{device} sedang sibuk. Tunggu sebentar, lalu coba lagi.",
                        "The {device} is busy. Wait a moment, then try again."),
    "err.capture_timeout": ("{device} tidak menangkap apa pun. Pastikan warga siap, lalu tekan "
                            "Enter untuk mencoba lagi.",
                            "The {device} captured nothing in time. Make sure the resident is "
                            "ready, then press Enter to try again."),
    "err.capture_untrusted": ("{device} mengirim hasil yang tanda tangannya tidak sah; hasil itu "
                              "tidak dipakai. Jangan lanjutkan dengan alat ini; hubungi "
                              "teknisi.",
                              "The {device} sent a capture whose signature does not verify; it "
                              "was not used. Do not go on with this device; call the "
                              "technician."),
    "err.device_closed": ("{device} sudah ditutup. Mulai ulang aplikasi.",
                          "The {device} was closed. Restart the application."),
    "err.paper_out": ("Kertas printer habis. Isi kertas, lalu tekan Enter untuk mencetak ulang.",
                      "The printer is out of paper. Load paper, then press Enter to print "
                      "again."),
    "err.printer_offline": ("Printer mati atau terlepas. Nyalakan dan periksa kabelnya, lalu "
                            "tekan Enter untuk mencetak ulang.",
                            "The printer is off or unplugged. Switch it on, check the cable, "
                            "then press Enter to print again."),
    "err.backend_unavailable": ("{device} tidak tersedia di kit ini. Hubungi teknisi.",
                                "The {device} is not available on this kit. Call the "
                                "technician."),
    "err.simulated_device_refused": ("Perangkat simulasi ditolak di kit produksi. Hubungi "
                                     "teknisi.",
                                     "Simulated devices are refused on a production kit. Call "
                                     "the technician."),
    "err.sync_stopped": ("Layanan kirim otomatis berhenti. Hubungi teknisi; data tetap aman "
                         "di kit.",
                         "The automatic sending service stopped. Call the technician; the "
                         "data stays safe on the kit."),
    "err.transport": ("Server pusat tidak menjawab. Periksa sinyal dan kuota modem (atau kabel "
                      "jaringan); bila internet lancar, hubungi teknisi: server pusat mungkin "
                      "mati. Data tetap aman di kit.",
                      "HQ's server does not answer. Check the modem's signal and data credit "
                      "(or the network cable); if the internet works, call the technician: "
                      "HQ's server may be down. The data stays safe on the kit."),
    "err.connect_failed": ("Server pusat tidak menjawab. Periksa sinyal dan kuota modem (atau "
                           "kabel jaringan); bila internet lancar, hubungi teknisi: server "
                           "pusat mungkin mati. Data tetap aman di kit.",
                           "HQ's server does not answer. Check the modem's signal and data "
                           "credit (or the network cable); if the internet works, call the "
                           "technician: HQ's server may be down. The data stays safe on the "
                           "kit."),
    "err.hq_unreachable": ("Server pusat tidak menjawab. Periksa sinyal dan kuota modem (atau "
                           "kabel jaringan); bila internet lancar, hubungi teknisi: server "
                           "pusat mungkin mati. Data tetap aman di kit.",
                           "HQ's server does not answer. Check the modem's signal and data "
                           "credit (or the network cable); if the internet works, call the "
                           "technician: HQ's server may be down. The data stays safe on the "
                           "kit."),
    "err.disconnected": ("Sambungan ke pusat terputus. Akan dicoba lagi otomatis.",
                         "The link to HQ dropped. It will retry by itself."),
    "err.publish_timeout": ("Jaringan lambat: pengiriman belum dikonfirmasi. Akan dicoba lagi.",
                            "Slow network: the send is not confirmed yet. It will retry."),
    "err.not_authorized": ("Server pusat menolak kit ini. Hubungi teknisi (sertifikat).",
                           "The HQ server refused this kit. Call the technician (certificate)."),
    "err.protocol": ("Pesan dari pusat tidak bisa dibaca. Hubungi teknisi.",
                     "A message from HQ could not be read. Call the technician."),
    # --- readiness checks (edge.checks, sync.link, rekam doctor) -----------------------
    "check.title": ("Pemeriksaan kesiapan kit {device}", "Readiness check of kit {device}"),
    "check.status.ok": ("SIAP", "OK"),
    "check.status.warn": ("PERHATIAN", "WARN"),
    "check.status.fail": ("GAGAL", "FAIL"),
    "check.ready": ("KIT SIAP melayani warga.", "KIT READY to serve residents."),
    "check.not_ready": ("KIT BELUM SIAP: perbaiki yang bertanda GAGAL, lalu jalankan lagi.",
                        "KIT NOT READY: fix what says FAIL, then run again."),
    "check.training": ("MODE LATIHAN — perangkat simulasi ({devices}): kit ini hanya untuk "
                       "latihan, BUKAN untuk melayani warga; pusat menandai rekamannya sebagai "
                       "simulasi.",
                       "TRAINING MODE — simulated devices ({devices}): this kit is for "
                       "practice only, NOT for serving residents; HQ marks its recordings as "
                       "simulated."),
    "check.device_not_found": ("tidak ditemukan; dicari: {probed}. Periksa {what}, lalu "
                               "jalankan lagi 'rekam doctor'",
                               "not found; looked for: {probed}. Check {what}, then run "
                               "'rekam doctor' again"),
    "check.device_not_found_sim": ("tidak ditemukan; dicari: {probed}. Periksa {what}, lalu "
                                   "jalankan lagi 'rekam doctor'; sementara memakai "
                                   "perangkat simulasi (latihan)",
                                   "not found; looked for: {probed}. Check {what}, then run "
                                   "'rekam doctor' again; a simulated device stands in for "
                                   "now (training)"),
    "check.fallback": ("{label}: tidak ditemukan (dicari: {probed}); sementara memakai "
                       "perangkat simulasi. Periksa {what}.",
                       "{label}: not found (looked for: {probed}); a simulated device stands "
                       "in for now. Check {what}."),
    # what ``auto`` probes for each device, and what a person checks when none answers
    "check.probe.camera.picamera2": ("kamera modul Raspberry Pi (konektor CSI)",
                                     "Raspberry Pi camera module (CSI connector)"),
    "check.probe.camera.opencv": ("kamera USB (/dev/video*)", "USB camera (/dev/video*)"),
    "check.probe.fingerprint.sbi": ("pemindai bersertifikat (layanan SBI)",
                                    "certified scanner (SBI service)"),
    "check.probe.fingerprint.libfprint": ("pemindai USB (libfprint)", "USB reader (libfprint)"),
    "check.probe.iris.sbi": ("pemindai bersertifikat (layanan SBI)",
                             "certified scanner (SBI service)"),
    "check.probe.signature.evdev": ("pena/bantalan USB (perangkat input)",
                                    "USB pen tablet or pad (input devices)"),
    "check.probe.code_reader.evdev": ("pemindai kode USB (perangkat input)",
                                      "USB code scanner (input devices)"),
    "check.probe.receipt_printer.escpos": ("printer ESC/POS USB (/dev/usb/lp*)",
                                           "USB ESC/POS printer (/dev/usb/lp*)"),
    "check.probe.document_printer.cups": ("printer bawaan di CUPS", "CUPS default printer"),
    "check.probe.indicators.gpiozero": ("pin GPIO Raspberry Pi", "Raspberry Pi GPIO pins"),
    "check.what.camera": ("kabel pita kamera atau kabel USB kamera",
                          "the camera's ribbon cable or USB cable"),
    "check.what.fingerprint": ("kabel USB pemindai sidik jari dan layanan SBI-nya",
                               "the fingerprint scanner's USB cable and its SBI service"),
    "check.what.iris": ("kabel USB pemindai iris dan layanan SBI-nya",
                        "the iris scanner's USB cable and its SBI service"),
    "check.what.signature": ("kabel USB bantalan tanda tangan", "the signature pad's USB cable"),
    "check.what.code_reader": ("kabel USB pembaca kode QR", "the QR code reader's USB cable"),
    "check.what.receipt_printer": ("kabel USB dan daya printer struk",
                                   "the receipt printer's USB cable and power"),
    "check.what.document_printer": ("printer A4 menyala dan menjadi printer bawaan (lpstat -d)",
                                    "that the A4 printer is on and CUPS's default (lpstat -d)"),
    "check.what.indicators": ("sambungan lampu dan buzzer ke GPIO",
                              "the LEDs' and buzzer's wiring to the GPIO header"),
    "check.label.camera": ("Kamera", "Camera"),
    "check.label.fingerprint": ("Pemindai sidik jari", "Fingerprint scanner"),
    "check.label.iris": ("Pemindai iris", "Iris scanner"),
    "check.label.signature": ("Bantalan tanda tangan", "Signature pad"),
    "check.label.code_reader": ("Pembaca kode QR", "QR code reader"),
    "check.label.receipt_printer": ("Printer struk", "Receipt printer"),
    "check.label.document_printer": ("Printer A4", "A4 printer"),
    "check.label.indicators": ("Lampu dan buzzer", "LEDs and buzzer"),
    "check.label.disk": ("Ruang disk", "Disk space"),
    "check.label.clock": ("Jam sistem", "System clock"),
    "check.label.keys": ("Kunci keamanan", "Security keys"),
    "check.label.roster": ("Daftar warga", "Resident roster"),
    "check.label.broker": ("Koneksi ke pusat", "Link to HQ"),
    "check.label.settings": ("Pengaturan", "Settings"),
    "check.device_ok": ("{model} ({backend}), nomor seri {serial}",
                        "{model} ({backend}), serial {serial}"),
    "check.device_sim": ("SIMULASI, bukan alat sungguhan ({model})",
                         "SIMULATED, not real hardware ({model})"),
    "check.device_sim_refused": ("perangkat simulasi tidak diizinkan di kit produksi; pasang "
                                 "alat aslinya",
                                 "simulated devices are not allowed on a production kit; "
                                 "connect the real one"),
    "check.device_missing": ("tidak ditemukan: {error}. Periksa kabel USB/daya, lalu jalankan "
                             "lagi 'rekam doctor'",
                             "not found: {error}. Check the USB cable and power, then run "
                             "'rekam doctor' again"),
    "check.self_test_failed": ("uji mandiri gagal: {detail}", "self-test failed: {detail}"),
    "check.paper_out": ("kertas struk habis; pasang gulungan baru",
                        "out of receipt paper; load a new roll"),
    "check.paper_low": ("kertas struk hampir habis; siapkan gulungan baru",
                        "receipt paper nearly out; have a new roll ready"),
    "check.disk_ok": ("{free} MB bebas (batas minimum {floor} MB)",
                      "{free} MB free (floor {floor} MB)"),
    "check.disk_low": ("{free} MB bebas (batas minimum {floor} MB); kirim data ke pusat ('rekam "
                       "sync --once') agar paket lama dihapus",
                       "{free} MB free (floor {floor} MB); sync to HQ ('rekam sync --once') "
                       "so that acknowledged packets are purged"),
    "check.clock_ok": ("{now:%Y-%m-%d %H:%M} WIB", "{now:%Y-%m-%d %H:%M} WIB (UTC+7)"),
    "check.clock_wrong": ("{now:%Y-%m-%d %H:%M} WIB; jam kit salah; sambungkan ke internet "
                          "atau atur jam dengan benar",
                          "{now:%Y-%m-%d %H:%M} WIB (UTC+7); the kit's clock is wrong; "
                          "connect to the internet or set the time"),
    "check.keys_ok": ("lengkap, kunci pribadi hanya bisa dibaca kit",
                      "complete, private keys readable by the kit only"),
    "check.keys_bad": ("{problem}; provisioning ulang: rekam provision BUNDLE",
                       "{problem}; provision again: rekam provision BUNDLE"),
    "check.roster_none": ("belum ada; impor daftar dari pusat (rekam roster import FILE)",
                          "none yet; import HQ's worklist (rekam roster import FILE)"),
    "check.roster_ok": ("versi {version}, {size} warga, diimpor {imported:%Y-%m-%d}, berlaku "
                        "sampai {expires:%Y-%m-%d}",
                        "version {version}, {size} residents, imported {imported:%Y-%m-%d}, "
                        "valid until {expires:%Y-%m-%d}"),
    "check.roster_expired": ("kedaluwarsa sejak {expires:%Y-%m-%d}; minta daftar baru dari "
                             "pusat",
                             "expired on {expires:%Y-%m-%d}; ask HQ for a new worklist"),
    "check.roster_soon": ("versi {version}, {size} warga, diimpor {imported:%Y-%m-%d}, berlaku "
                          "sampai {expires:%Y-%m-%d}; berakhir {expires:%Y-%m-%d}; minta "
                          "daftar baru dari pusat",
                          "version {version}, {size} residents, imported {imported:%Y-%m-%d}, "
                          "valid until {expires:%Y-%m-%d}; ends {expires:%Y-%m-%d}; ask HQ "
                          "for a new worklist"),
    "check.broker_unset": ("alamat server belum diatur (rekam config set broker "
                           "mqtts://HOST:PORT)",
                           "no broker set (rekam config set broker mqtts://HOST:PORT)"),
    "check.broker_ok": ("{url} terjangkau (TLS berhasil)", "{url} reachable (TLS handshake done)"),
    "check.broker_down": ("{url} tidak terjangkau ({error}); kit tetap bisa merekam, data "
                          "dikirim saat koneksi ada",
                          "{url} unreachable ({error}); the kit still records and uploads "
                          "later"),
    "check.settings_defaulted": ("nilai di luar batas, memakai nilai bawaan; perbaiki dengan "
                                 "'rekam config set': {problems}",
                                 "out of range, the defaults apply; fix with 'rekam config "
                                 "set': {problems}"),
}

_TITLES = {
    "device": ("hal", "device_not_found", "device_unplugged", "device_busy", "capture_timeout",
               "capture_untrusted",
               "device_closed", "paper_out", "printer_offline", "backend_unavailable",
               "simulated_device_refused"),
    "auth": ("auth", "wrong_pin", "locked_out", "not_allowed", "operator_disabled",
             "approval_required"),
    "data": ("integrity", "document_rejected", "storage", "invalid_input", "invalid_nik",
             "not_found", "already_enrolled", "insufficient_disk", "invitation_refused",
             "invitation_malformed", "invitation_forged", "invitation_expired",
             "invitation_other_area", "invitation_not_on_roster", "worklist_expired",
             "roster_wiped"),
    "link": ("transport", "connect_failed", "hq_unreachable", "disconnected",
             "publish_timeout", "not_authorized", "protocol"),
}


class _Values(dict[str, Any]):
    """Format values that leave a missing name visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalogue:
    """The string lookup, in one of :data:`LANGUAGES`."""

    def __init__(self, language: str = "id") -> None:
        self.language = language if language in LANGUAGES else "id"
        self._listeners: list[Callable[[str], None]] = []

    @property
    def index(self) -> int:
        return LANGUAGES.index(self.language)

    def switch(self, language: str | None = None) -> str:
        """Change language (to the other one when ``language`` is None); returns it."""
        if language is None:
            language = LANGUAGES[(self.index + 1) % len(LANGUAGES)]
        if language not in LANGUAGES:
            raise ValueError(f"language is one of {LANGUAGES}")
        self.language = language
        return language

    def t(self, key: str, **values: Any) -> str:
        """The string for ``key`` in the current language, with ``values`` filled in."""
        entry = STRINGS.get(key)
        if entry is None:
            return key
        text = entry[self.index]
        return text.format_map(_Values(values)) if values else text

    def has(self, key: str) -> bool:
        return key in STRINGS

    # --- domain words -----------------------------------------------------------------------

    def device(self, kind: str) -> str:
        return self.t(f"dev.{kind}") if self.has(f"dev.{kind}") else kind

    def audit_action(self, action: str) -> str:
        """An audit entry's action in words ("enrolment_sealed" -> "Perekaman disegel");
        one this catalogue does not know yet, readable all the same."""
        key = f"audit.{action}"
        return self.t(key) if self.has(key) else action.replace("_", " ").capitalize()

    def finger(self, position: str, *, short: bool = False) -> str:
        """``right_index`` → "Telunjuk kanan" / "Right index"."""
        side, _, name = position.partition("_")
        if short:
            return self.t(f"fingershort.{name}")
        return self.t("finger.name", finger=self.t(f"finger.{name}"),
                      side=self.t(f"side.{side}")).capitalize()

    def slot(self, modality: str, position: str | None, step: str = "") -> str:
        """A slot's name: "Wajah", "Telunjuk kanan", "Mata kiri", "Verifikasi telunjuk kanan"."""
        if modality == "face":
            return self.t("slot.face")
        if modality == "signature":
            return self.t("slot.signature")
        if modality == "iris" and position:
            return self.t(f"eye.{position}")
        if position:
            name = self.finger(position)
            if step == "verification":
                return self.t("slot.verify", finger=name.lower())
            return name
        return modality

    def step(self, step: str) -> str:
        return self.t(f"step.{step}")

    def reason(self, modality: str, code: str) -> str:
        """A quality reason code as advice: what is wrong and what to do."""
        for key in (f"reason.{modality}.{code}", f"warning.{code}"):
            if key in STRINGS:
                return self.t(key)
        return self.t("reason.unknown", code=code)

    def exception_reason(self, reason: str, *, short: bool = False) -> str:
        return self.t(f"excshort.{reason}" if short else f"exc.reason.{reason}")

    def check(self, check: Any) -> tuple[str, str, str]:
        """An :class:`edge.checks.Check` as (status, label, detail) words."""
        values = dict(check.values)
        if "probed" in values:  # backend names: what was looked for, in words
            values.update(self.probed(check.key, values.pop("probed")))
        return (self.t(f"check.status.{check.status}"), self.t(f"check.label.{check.key}"),
                self.t(f"check.{check.code}", **values))

    def probed(self, kind: str, backends: Any) -> dict[str, str]:
        """What ``auto`` looked for a device kind with, and what to check, in words."""
        names = [self.t(f"check.probe.{kind}.{b}") if self.has(f"check.probe.{kind}.{b}")
                 else str(b) for b in backends]
        return {"probed": ", ".join(names) or "-", "what": self.t(f"check.what.{kind}")}

    # --- errors --------------------------------------------------------------------------------

    def error(self, exc: BaseException) -> tuple[str, str]:
        """(title, sentence) for an error from the core, the devices or sync."""
        shown = exc if isinstance(exc, ShownError) else None  # else a bug: the general words
        code = shown.code if shown is not None else "error"
        details = dict(shown.details) if shown is not None else {}
        device_kind = shown.device if shown is not None else ""
        values: dict[str, Any] = {
            "message": str(exc), **details,
            "device": self.t(f"devnoun.{device_kind}") if self.has(f"devnoun.{device_kind}")
            else self.t("devnoun.generic"),
        }
        if code == "wrong_pin":
            values.setdefault("attempts_left", "?")
        key = f"err.{code}"
        if key not in STRINGS:
            key = "err.error"
        title_kind = next((k for k, codes in _TITLES.items() if code in codes), "general")
        text = self.t(key, **values)
        return self.t(f"err.title.{title_kind}"), text

    # --- times ----------------------------------------------------------------------------------

    def duration(self, seconds: float) -> str:
        seconds = max(0, round(seconds))
        if seconds < 60:
            return self.t("time.seconds", n=seconds)
        minutes = (seconds + 59) // 60
        if minutes < 120:
            return self.t("time.minutes", n=minutes)
        hours = minutes // 60
        if hours < 48:
            return self.t("time.hours", n=hours)
        return self.t("time.days", n=hours // 24)

    def when(self, moment: datetime | None, now: datetime) -> str:
        """A past moment as "24-11 09:15 (3 menit lalu)"; "belum pernah" for None."""
        if moment is None:
            return self.t("sync.never")
        local = moment.astimezone(now.tzinfo)
        stamp = local.strftime("%d-%m %H:%M") if local.date() != now.date() \
            else local.strftime("%H:%M")
        return self.t("time.ago", when=stamp, ago=self.duration((now - moment).total_seconds()))
