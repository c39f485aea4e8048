"""What a mail server's refusal or a bounce notice means for the address: pure rules.

One set of rules for both ends: a reply at send time (`550 5.1.1 …` at RCPT) and a
delivery status notification read later by `digest bounces`.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

# hard: the address does not exist (bounced at once); soft: a passing problem (bounced
# after [bounces] soft_limit editions in a row); policy: the receiving server blocks the
# sender, not the address (stays active); complaint: the reader reported it as spam;
# unsubscribe: a mailed request; auto_reply: out of office and the like; delayed: a
# warning that a server is still trying (RFC 3464 `Action: delayed`: no failure, the
# copy may yet arrive); unknown: none.
BounceKind = Literal["hard", "soft", "policy", "complaint", "unsubscribe", "auto_reply",
                     "delayed", "unknown"]
BOUNCE_KINDS: tuple[BounceKind, ...] = get_args(BounceKind)

# An enhanced status code of a failure in a server's words (4.x.x or 5.x.x).
STATUS = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
POLICY_WORDS = re.compile(
    r"block(ed|ing)?\b|\b(block|black|deny|ban)\s?list(ed)?\b|\bspam|\breputation\b|"
    r"\bpolicy\b|\bpolicies\b|\bbanned\b|\bspamhaus\b|\bRBL\b",
    re.IGNORECASE)
# Words of servers that do not give a status code and mean "no such address".
NO_SUCH_USER = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient|address)|"
    r"does not exist|doesn't exist|mailbox unavailable|mailbox not found|no mailbox|"
    r"user not known|doesn't have an? \S+ account|no longer (active|valid)|"
    r"invalid (recipient|mailbox|address)|address rejected|account (is )?disabled|"
    r"recipient not found|not a valid (recipient|mailbox)|unrouteable address|"
    r"host or domain name not found|domain not found",
    re.IGNORECASE)


# X.1.7 (bad sender's mailbox address syntax) and X.1.8 (bad sender's system address):
# RFC 3463's address codes about the sender. A refused return path refuses every
# recipient alike, so it says nothing against theirs.
SENDER_DETAILS = ("7", "8")


def status_in(text: str) -> str | None:
    """The first enhanced status code (RFC 3463, `5.1.1`) in a text, or None."""
    found = STATUS.search(text)
    return ".".join(found.groups()) if found else None


def kind_for(status: str | None, text: str = "", *, permanent: bool | None = None
             ) -> BounceKind:
    """The kind of a failure from its enhanced status code and the server's words.

    5.7.x and 4.7.x (security or policy), X.1.7 and X.1.8 (the sender's address), and
    words such as "blocked", "spam", "reputation" are a policy block, unless the code
    says the address itself is wrong (5.1.x, 5.2.1); 4.x.x, 5.2.2, 5.3.x and 5.4.x
    are soft. Without a code that says which, words of "no such user" make it hard,
    and `permanent` (a 5xx reply, a failed action) decides between hard-looking and
    soft: soft, so that nobody is dropped on a guess.
    """
    status = status or status_in(text)
    klass, subject, detail = [*status.split("."), "", "", ""][:3] if status else ["", "", ""]
    if subject == "1" and detail in SENDER_DETAILS:
        return "policy"  # the sender's address is refused, whoever the recipient
    if klass == "5" and (subject == "1" or (subject == "2" and detail == "1")):
        return "hard"
    if subject == "7" or POLICY_WORDS.search(text):
        return "policy"
    if klass == "4" or (klass == "5" and subject in ("2", "3", "4")):
        return "soft"
    if NO_SUCH_USER.search(text) and permanent is not False and klass != "4":
        return "hard"
    return "soft"


def reply_kind(reply: str | None) -> BounceKind:
    """The kind of a refusal at send time (`550 5.1.1 <a@b>: Recipient address
    rejected`): a 5xx reply is permanent, anything else is soft."""
    text = reply or ""
    status = status_in(text)
    if not text.startswith("5"):
        return "policy" if status and status.split(".")[1] == "7" else "soft"
    return kind_for(status, text, permanent=True)


AUTO_SUBJECT = re.compile(
    r"out of (the )?office|auto(matic)?[ -]?(reply|response|antwort)|autoreply|"
    r"vacation|on holiday|away from (the )?office|abwesenheit|absence|\bOOO\b|"
    r"réponse automatique|respuesta automática|автоответ",
    re.IGNORECASE)


def is_auto_reply(headers: dict[str, str]) -> bool:
    """Whether a message is an automatic reply (RFC 3834 `Auto-Submitted: auto-replied`,
    the X-Autoreply family, `Precedence: auto_reply`, an out-of-office subject). The
    headers are lower-cased names with their decoded values."""
    submitted = headers.get("auto-submitted", "").strip().lower()
    if submitted.startswith("auto-replied"):
        return True
    if any(name in headers for name in ("x-autoreply", "x-autorespond", "x-autoresponder")):
        return True
    if headers.get("precedence", "").strip().lower() == "auto_reply":
        return True
    return bool(AUTO_SUBJECT.search(headers.get("subject", "")))
