"""Modal dialogs, each a typed ``ModalScreen[T]`` that returns with ``dismiss``: confirm
(bool), a problem with an optional retry (bool), and a supervisor's approval of an
exception (the approver's id, or None)."""
