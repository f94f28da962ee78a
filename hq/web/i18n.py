"""Every string the dashboard shows, in Bahasa Indonesia (the default) and English.

Templates call ``t("key", name=value)``; a test checks that both languages have every key
and that every key a template uses exists.
"""

from __future__ import annotations

LANGUAGES = ("id", "en")
DEFAULT = "id"

TEXT: dict[str, dict[str, str]] = {
    "id": {
        "app": "Pemantauan Wajib Rekam KTP-el",
        "org": "Disdukcapil Kota Bekasi",
        "login_title": "Masuk",
        "user_id": "ID pengguna",
        "password": "Kata sandi",
        "login": "Masuk",
        "logout": "Keluar",
        "login_wrong": "ID pengguna atau kata sandi salah.",
        "login_wait": "Terlalu banyak percobaan gagal. Coba lagi dalam {minutes} menit.",
        "login_expired": "Formulir kedaluwarsa; silakan masuk lagi.",
        "logged_out": "Anda sudah keluar.",
        "switch_language": "English",
        "nav_coverage": "Cakupan",
        "nav_kits": "Kit",
        "nav_review": "Antrean tinjauan",
        "nav_readiness": "Kesiapan layanan",
        "nav_users": "Log masuk",
        "signed_in_as": "Masuk sebagai {user} ({role}, {area})",
        "role_viewer": "pemantau", "role_clerk": "petugas", "role_admin": "admin",
        "whole_city": "seluruh kota",
        "live": "Diperbarui langsung",
        "updated_at": "Data per {at}",
        "kits": "Kit perekaman",
        "kit": "Kit",
        "kit_state": "Keadaan",
        "state_online": "daring",
        "state_late": "terlambat",
        "state_silent": "diam {days} hari",
        "state_silent_hours": "diam {hours} jam",
        "state_offline": "luring",
        "state_never": "belum pernah melapor",
        "state_revoked": "dicabut",
        "last_heartbeat": "Laporan terakhir",
        "queue": "Antrean paket",
        "free_disk": "Disk bebas",
        "audit_head": "Kepala log audit",
        "packets": "Paket diterima",
        "last_packet": "Paket terakhir",
        "roster_version": "Versi daftar",
        "software": "Perangkat lunak",
        "training": "LATIHAN",
        "readiness": "Kesiapan terakhir",
        "no_kits": "Belum ada kit terdaftar.",
        "kits_summary": "{online} daring, {late} terlambat, {silent} diam, {never} belum "
                        "pernah melapor",
        "forbidden": "Halaman ini di luar wilayah akun Anda.",
        "not_found": "Halaman tidak ditemukan.",
        "csrf_failed": "Permintaan ditolak (token formulir tidak cocok). Muat ulang halaman.",
        "back_home": "Kembali ke beranda",
        "users_title": "Akun dan log masuk",
        "auth_events": "Catatan masuk/keluar",
        "at": "Waktu", "event": "Kejadian", "address": "Alamat", "detail": "Keterangan",
        "role": "Peran", "area": "Wilayah", "disabled": "nonaktif", "active": "aktif",
        "status": "Status",
        "coverage_of": "Cakupan perekaman: {area}",
        "period_from": "Dari", "period_to": "Sampai", "show": "Tampilkan",
        "coverage": "Cakupan", "recorded": "Sudah rekam", "must_record": "Wajib rekam",
        "remaining": "Belum rekam", "recorded_in_period": "Direkam dalam periode",
        "base_change": "Perubahan basis",
        "chart_children": "Cakupan per {level}", "chart_progress": "Kemajuan terhadap target",
        "by_level": "Per {level}",
        "level_kota": "kota", "level_kecamatan": "kecamatan", "level_kelurahan": "kelurahan",
        "level_rw": "RW", "level_rt": "RT",
        "total": "Jumlah",
        "no_data": "Belum ada warga wajib rekam terdaftar di wilayah ini.",
        "not_recorded_title": "Warga yang belum rekam ({n})",
        "list_cut": "Hanya {n} warga pertama yang ditampilkan.",
        "name": "Nama",
        "download": "Unduh laporan",
        "invitations": "Undangan",
        "output_title": "Perekaman per kit per hari (paket diterima HQ, 7 hari terakhir)",
        "output_note": "Satu paket per perekaman, menurut hari diterima HQ (WIB).",
        "inv_letters": "Surat undangan dibuat", "inv_printed": "Dicetak",
        "inv_delivered": "Diterima warga", "inv_attended": "Hadir dan terekam",
        "mark_delivered": "diterima", "mark_not-found": "tidak ditemukan",
        "mark_moved": "pindah", "mark_died": "meninggal", "mark_refused": "menolak",
        "status_belum-rekam": "belum rekam", "status_diundang": "diundang",
        "status_terekam": "terekam", "status_perlu-tinjau": "perlu tinjau",
        "status_pindah": "pindah", "status_meninggal": "meninggal",
        "status_sudah-rekam-di-tempat-lain": "sudah rekam di tempat lain",
        "bad_period": "Periode tidak sah: tanggal YYYY-MM-DD, 'dari' tidak setelah 'sampai'.",
    },
    "en": {
        "app": "KTP-el Recording Monitor",
        "org": "Disdukcapil Kota Bekasi",
        "login_title": "Log in",
        "user_id": "User id",
        "password": "Password",
        "login": "Log in",
        "logout": "Log out",
        "login_wrong": "Wrong user id or password.",
        "login_wait": "Too many failed attempts. Try again in {minutes} minutes.",
        "login_expired": "The form expired; please log in again.",
        "logged_out": "You have logged out.",
        "switch_language": "Bahasa Indonesia",
        "nav_coverage": "Coverage",
        "nav_kits": "Kits",
        "nav_review": "Review queue",
        "nav_readiness": "Service readiness",
        "nav_users": "Logins",
        "signed_in_as": "Logged in as {user} ({role}, {area})",
        "role_viewer": "viewer", "role_clerk": "clerk", "role_admin": "admin",
        "whole_city": "whole city",
        "live": "Live",
        "updated_at": "Data as of {at}",
        "kits": "Recording kits",
        "kit": "Kit",
        "kit_state": "State",
        "state_online": "online",
        "state_late": "late",
        "state_silent": "silent {days} days",
        "state_silent_hours": "silent {hours} h",
        "state_offline": "offline",
        "state_never": "never reported",
        "state_revoked": "revoked",
        "last_heartbeat": "Last heartbeat",
        "queue": "Packet queue",
        "free_disk": "Free disk",
        "audit_head": "Audit head",
        "packets": "Packets received",
        "last_packet": "Last packet",
        "roster_version": "Roster version",
        "software": "Software",
        "training": "TRAINING",
        "readiness": "Last readiness",
        "no_kits": "No kit registered yet.",
        "kits_summary": "{online} online, {late} late, {silent} silent, {never} never "
                        "reported",
        "forbidden": "This page is outside your account's area.",
        "not_found": "Page not found.",
        "csrf_failed": "Request refused (the form token did not match). Reload the page.",
        "back_home": "Back to the start page",
        "users_title": "Accounts and logins",
        "auth_events": "Login and logout record",
        "at": "Time", "event": "Event", "address": "Address", "detail": "Detail",
        "role": "Role", "area": "Area", "disabled": "disabled", "active": "active",
        "status": "Status",
        "coverage_of": "Recording coverage: {area}",
        "period_from": "From", "period_to": "To", "show": "Show",
        "coverage": "Coverage", "recorded": "Recorded", "must_record": "Must record",
        "remaining": "Not yet recorded", "recorded_in_period": "Recorded in the period",
        "base_change": "Change of the base",
        "chart_children": "Coverage by {level}", "chart_progress": "Progress against the target",
        "by_level": "By {level}",
        "level_kota": "city", "level_kecamatan": "kecamatan", "level_kelurahan": "kelurahan",
        "level_rw": "RW", "level_rt": "RT",
        "total": "Total",
        "no_data": "No resident who must record is on the register in this area yet.",
        "not_recorded_title": "Residents not yet recorded ({n})",
        "list_cut": "Only the first {n} residents are shown.",
        "name": "Name",
        "download": "Download the report",
        "invitations": "Invitations",
        "output_title": "Recordings per kit per day (packets HQ received, last 7 days)",
        "output_note": "One packet per recording, by the day HQ received it (WIB).",
        "inv_letters": "Letters made", "inv_printed": "Printed",
        "inv_delivered": "Delivered", "inv_attended": "Came and were recorded",
        "mark_delivered": "delivered", "mark_not-found": "not found",
        "mark_moved": "moved", "mark_died": "died", "mark_refused": "refused",
        "status_belum-rekam": "not yet recorded", "status_diundang": "invited",
        "status_terekam": "recorded", "status_perlu-tinjau": "under review",
        "status_pindah": "moved away", "status_meninggal": "died",
        "status_sudah-rekam-di-tempat-lain": "recorded elsewhere",
        "bad_period": "Invalid period: dates as YYYY-MM-DD, 'from' not after 'to'.",
    },
}


def translate(language: str, key: str, **values: object) -> str:
    table = TEXT.get(language, TEXT[DEFAULT])
    text = table.get(key) or TEXT[DEFAULT][key]
    return text.format(**values) if values else text


def number(language: str, value: int | float) -> str:
    """1.234.567 in Indonesian, 1,234,567 in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "id" else text


def percent(language: str, value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{100 * value:.{digits}f} %"
    return text.replace(".", ",") if language == "id" else text.replace(" %", "%")


def signed(language: str, value: int) -> str:
    return ("+" if value > 0 else "") + number(language, value)
