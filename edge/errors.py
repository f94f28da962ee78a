"""The one exception tree of the domain core.

Every error carries a stable ``code`` (the UI's string catalogue is keyed by it) and a
one-line English ``message`` for the command line and logs. Each class also subclasses the
matching builtin, so callers that only know Python's exceptions still catch them sensibly.
"""

from __future__ import annotations

from datetime import datetime

from edge.clock import wib
from hal.errors import ShownError


class RekamError(ShownError):
    """Base of every error the kit or HQ reports to a person."""

    code = "error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message, device=str(details.get("device", "") or ""), details=details)

    def __str__(self) -> str:
        return self.message


class InvalidInput(RekamError, ValueError):
    """Input that a person or a file gave us is wrong; nothing was changed."""

    code = "invalid_input"


class InvalidNIK(InvalidInput):
    """A NIK that breaks its structure (docs/domain.md); ``field`` names the part at fault."""

    code = "invalid_nik"

    def __init__(self, nik: str, field: str, reason: str) -> None:
        super().__init__(f"NIK {nik!r}: {field}: {reason}", nik=nik, field=field, reason=reason)
        self.field = field
        self.reason = reason


class NotFound(RekamError, LookupError):
    code = "not_found"


class AlreadyExists(RekamError, FileExistsError):
    code = "already_exists"


class NotProvisioned(RekamError, FileNotFoundError):
    """The kit has no provisioning bundle installed yet."""

    code = "not_provisioned"


class AuthError(RekamError, PermissionError):
    code = "auth"


class WrongPIN(AuthError):
    code = "wrong_pin"

    def __init__(self, operator_id: str, attempts_left: int) -> None:
        super().__init__(
            f"wrong PIN for operator {operator_id!r} "
            f"({attempts_left} attempts left before lockout)",
            operator_id=operator_id,
            attempts_left=attempts_left,
        )
        self.attempts_left = attempts_left


class LockedOut(AuthError):
    code = "locked_out"

    def __init__(self, operator_id: str, until: datetime) -> None:
        super().__init__(
            f"operator {operator_id!r} is locked out until {wib(until, '%H:%M:%S')}",
            operator_id=operator_id,
            until=until,
        )
        self.until = until


class RowsRejected(InvalidInput):
    """A file with bad rows, every one of them reported (``problems``: "line N, column X:
    ..."), so a clerk fixes them all in one pass; nothing of the file was used."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class NotAllowed(AuthError):
    """The operator is known but their role may not do this."""

    code = "not_allowed"


class OperatorDisabled(AuthError):
    code = "operator_disabled"


class IntegrityError(RekamError, ValueError):
    """A signature, MAC, hash chain or ciphertext did not verify."""

    code = "integrity"


class DocumentRejected(RekamError, ValueError):
    """A signed document from HQ (worklist, config, ack) is refused: foreign, stale or expired."""

    code = "document_rejected"


class WorklistExpired(RekamError, PermissionError):
    """The roster's worklist has expired: no search and no recording until HQ sends a new
    one. ``expired`` and ``wipe`` (when the roster is, or was, wiped) are in the details."""

    code = "worklist_expired"


class RosterWiped(WorklistExpired):
    """The expired roster was wiped after HQ's grace period."""

    code = "roster_wiped"


class WorkflowError(RekamError, RuntimeError):
    """An enrolment step was asked for out of order, or the enrolment cannot go on."""

    code = "workflow"


class AlreadyEnrolled(WorkflowError):
    code = "already_enrolled"


class InsufficientDisk(WorkflowError):
    code = "insufficient_disk"


class ApprovalRequired(WorkflowError):
    code = "approval_required"


class StorageError(RekamError, OSError):
    code = "storage"


class InvitationRefused(RekamError, ValueError):
    """A scanned invitation QR code is refused; the subclass says why (the operator can
    still find the resident by NIK or name)."""

    code = "invitation_refused"


class InvitationMalformed(InvitationRefused):
    """Not an invitation token, or a damaged one."""

    code = "invitation_malformed"


class InvitationForged(InvitationRefused):
    """Signed by no key the kit trusts, or the signature does not verify (altered)."""

    code = "invitation_forged"


class InvitationExpired(InvitationRefused):
    code = "invitation_expired"


class InvitationOtherArea(InvitationRefused):
    """A genuine invitation for a kelurahan this kit does not serve."""

    code = "invitation_other_area"


class InvitationNotOnRoster(InvitationRefused):
    """A genuine invitation whose code is not on this kit's roster."""

    code = "invitation_not_on_roster"
