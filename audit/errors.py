"""The few failures the CLI turns into exit codes; everything else is a bug."""


class AuditError(Exception):
    """Base class: the message is one line that says what to fix."""

    exit_code = 1


class UsageError(AuditError):
    """Bad arguments or options (exit 2)."""

    exit_code = 2


class PolicyError(UsageError):
    """A policy file that does not match the contract; carries every problem."""

    kind = "policy"

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{self.kind} {source} is invalid: " + "; ".join(problems))


class WaiversError(PolicyError):
    """A waivers file that does not match SPEC §7; shown like a policy error (exit 2)."""

    kind = "waivers"


class LoadError(AuditError):
    """Input that cannot be loaded at all (exit 3); the store is left as it was."""

    exit_code = 3


class StoreBusyError(LoadError):
    """Another process holds the store."""


class Interrupted(AuditError):
    """Ctrl-C or SIGINT: the message says what the store and --out hold now (exit 130)."""

    exit_code = 130


class NothingJudged(AuditError):
    """--fail-on with no contact judged: a broken pipeline must not pass as clean (exit 4)."""

    exit_code = 4
