"""The fixed edge cases: hand-placed loans (`LXnn`) and contacts (`X-...`) on every rule's boundary,
the same for every seed and size, plus the rows the loader must reject (sample_data/README.md lists them)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .common import BRAND, CN, HOTLINE, _Rng, id_check_char, luhn_check_digit
from .messages import TAG
from .people import _people

def _iso(dt: datetime, style: str, sep: str = "T") -> str:
    """Render an aware datetime: 'cn' in +08:00, 'z' in UTC with Z, 'local' in its own offset."""
    if style == "cn":
        dt = dt.astimezone(CN)
    elif style == "z":
        return dt.astimezone(timezone.utc).strftime(f"%Y-%m-%d{sep}%H:%M:%SZ")
    off = dt.utcoffset() or timedelta(0)
    m = int(off.total_seconds()) // 60
    return dt.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"


class _EdgeBuilder:
    """Hand-placed loans and contacts; ids `LXnn` / `X-...`, support events `LXnn-kk` (must not be flagged)."""

    def __init__(self) -> None:
        self.people = _people(_Rng("edge-cases"), 40).to_dicts()
        self.ec_phones = _people(_Rng("edge-cases-ec"), 120)["phone"].to_list()
        self.borrowers: list[dict] = []
        self.loans: dict[str, dict] = {}
        self.inst: list[dict] = []
        self.ecs: list[dict] = []
        self.contacts: list[dict] = []
        self._seen_b: set[str] = set()
        self._k: dict[str, int] = {}

    def person(self, n: int) -> dict:
        return self.people[n]

    def loan(self, n: int, zone: str = "Asia/Shanghai", principal: str = "6000.00",
             inst: tuple = (("2026-09-01", "2060.00", None),), borrower: int | None = None) -> str:
        b = borrower or n
        bid, lid = f"BX{b:02d}", f"LX{n:02d}"
        if bid not in self._seen_b:
            self._seen_b.add(bid)
            p = self.people[b]
            self.borrowers.append({"borrower_id": bid, "name": p["name"], "id_number": p["id_number"],
                                   "phone": p["phone"], "bank_card": p["bank_card"], "address": p["address"],
                                   "timezone": zone or None})
            for k, rel in enumerate(("配偶", "父母", "朋友"), 1):
                self.ecs.append({"borrower_id": bid, "contact_id": f"CX{b:02d}-{k}", "relationship": rel,
                                 "phone": self.ec_phones[3 * b + k]})
        self.loans[lid] = {"loan_id": lid, "borrower_id": bid, "principal": principal, "zone": zone, "b": b}
        z = ZoneInfo(zone or "Asia/Shanghai")
        for seq, (due, amount, paid) in enumerate(inst, 1):
            paid_at = None if paid is None else _iso(datetime.fromisoformat(paid).replace(tzinfo=z), "local")
            self.inst.append({"loan_id": lid, "seq": str(seq), "due_date": due, "amount_due": amount,
                              "paid_at": paid_at})
        return lid

    def p(self, lid: str) -> dict:
        return self.people[self.loans[lid]["b"]]

    def c(self, eid: str | None, lid: str, local: str | None, channel: str, rtype: str = "borrower",
          rid: str | None = None, outcome: str | None = None, dur: int | None = None, content: str | None = None,
          ts: str | None = None, style: str = "cn", file: str | None = None, agent: str | None = "auto") -> str:
        if eid is None:
            self._k[lid] = self._k.get(lid, 0) + 1
            eid = f"{lid}-{self._k[lid]:02d}"
        if ts is None:
            z = ZoneInfo(self.loans[lid]["zone"] or "Asia/Shanghai")
            ts = _iso(datetime.fromisoformat(local).replace(tzinfo=z), style)
        if agent == "auto":
            manual = channel in ("call", "visit", "im") or rtype != "borrower"
            agent = f"A{int(lid[2:]) % 20 + 1:02d}" if manual else None
        if content is None:
            content = self.default_content(lid, channel, rtype, outcome)
        self.contacts.append({"event_id": eid, "loan_id": lid, "ts": ts, "channel": channel, "recipient_type": rtype,
                              "recipient_id": rid, "agent_id": agent, "outcome": outcome, "duration_s": dur,
                              "content": content, "file": file})
        return eid

    def default_content(self, lid: str, channel: str, rtype: str, outcome: str | None) -> str | None:
        p = self.p(lid)
        if rtype != "borrower":
            if channel == "call":
                return f"联系人表示会转告{p['name']}尽快回电。" if outcome == "connected" else "联系人无人接听"
            return f"您好，这里是{BRAND}客服，有重要事情需联系{p['name']}，麻烦您转告其尽快回电{HOTLINE}，谢谢。"
        if channel == "call":
            return {"connected": "客户本人接听，承诺尽快还款。", "no_answer": "无人接听", "busy": "用户忙",
                    "voicemail": "转语音信箱，未留言", "failed": "呼叫失败"}.get(outcome or "", None)
        if channel == "email":
            return (f"尊敬的{p['title']}：\n您在{BRAND}的借款已逾期，请您尽快通过App或银行转账完成还款。"
                    f"如有困难，可致电{HOTLINE}申请还款计划。\n{BRAND}贷后管理部")
        return f"{TAG}{p['title']}，请留意您的账单，可登录App查看还款计划。"

    def prelude(self, lid: str, e: str, compact: bool = False) -> None:
        """Reminders that satisfy the example policy's escalation (2 SMS, 1 e-mail, 3 unanswered calls)
        and TP-REACHABLE (the last 3 borrower calls after E, none connected)."""
        d1 = date.fromisoformat(e) + timedelta(days=1)
        d2 = d1 if compact else d1 + timedelta(days=1)
        self.c(None, lid, f"{d1} 10:00:00", "sms", outcome="delivered")
        self.c(None, lid, f"{d1} 10:30:00", "email", outcome="delivered")
        self.c(None, lid, f"{d1} 11:00:00", "call", outcome="no_answer")
        self.c(None, lid, f"{d1} 15:00:00", "call", outcome="busy")
        self.c(None, lid, f"{d2} {'16' if compact else '10'}:00:00", "sms", outcome="delivered")
        self.c(None, lid, f"{d2} {'17' if compact else '11'}:00:00", "call", outcome="voicemail", dur=20)


def _valid_id(body17: str) -> str:
    return body17 + id_check_char(body17)


def _valid_card(body: str) -> str:
    return body + luhn_check_digit(body)


EC, TP = "emergency_contact", "third_party"
UNPAID = (("2026-08-01", "2060.00", "2026-07-30 10:00:00"), ("2026-09-01", "2060.00", None),
          ("2026-10-01", "2060.00", None))
CURED = (("2026-08-01", "2060.00", "2026-08-20 12:00:00"), ("2026-09-01", "2060.00", "2026-08-30 10:00:00"),
         ("2026-10-01", "2060.00", None))
PAID_OK = (("2026-10-01", "2060.00", "2026-09-30 12:00:00"), ("2026-11-01", "2060.00", "2026-10-30 12:00:00"))


def _third_party_dpd(x: _EdgeBuilder) -> None:
    """TP-DPD: third-party contacts before 7 days past due (the amount tier lowers it to 3 at >= 50000)."""
    lid = x.loan(1, inst=UNPAID)
    x.prelude(lid, "2026-09-01")
    x.c("X-TPDPD-01", lid, "2026-09-04 10:00:00", "call", EC, "CX01-1", "connected", 45)          # DPD 3
    x.c("X-TPDPD-02", lid, "2026-09-07 10:00:00", "sms", EC, "CX01-2", "delivered")               # DPD 6
    x.c("X-OK-TPDPD-7", lid, "2026-09-08 10:00:00", "call", EC, "CX01-3", "connected", 60)        # DPD 7
    lid = x.loan(2, principal="300000.00", inst=(("2026-08-10", "50000.00", "2026-08-09 12:00:00"),
                                                  ("2026-09-10", "50000.00", None)))
    x.prelude(lid, "2026-09-10", compact=True)
    x.c("X-TPDPD-TIER-2", lid, "2026-09-12 10:00:00", "call", EC, "CX02-1", "connected", 50)      # DPD 2, 50000
    x.c("X-OK-TPDPD-TIER-3", lid, "2026-09-13 10:00:00", "call", EC, "CX02-2", "connected", 50)   # DPD 3, 50000
    lid = x.loan(3, principal="150000.00", inst=(("2026-08-10", "50000.00", "2026-08-09 12:00:00"),
                                                  ("2026-09-10", "49999.99", None)))
    x.prelude(lid, "2026-09-10", compact=True)
    x.c("X-TPDPD-TIER-BELOW", lid, "2026-09-13 10:00:00", "call", EC, "CX03-1", "connected", 50)  # DPD 3, 49999.99
    lid = x.loan(4, principal="9000.00", inst=(("2026-09-05", "3090.00", "2026-09-20 15:00:00"),
                                                ("2026-10-05", "3090.00", "2026-10-03 10:00:00"),
                                                ("2026-11-05", "3090.00", "2026-11-04 10:00:00")))
    x.prelude(lid, "2026-09-05")
    x.c("X-OK-TPDPD-BEFOREPAY", lid, "2026-09-20 10:00:00", "call", EC, "CX04-1", "connected", 40)  # DPD 15
    x.c("X-TPDPD-AFTERPAY", lid, "2026-09-20 16:00:00", "call", EC, "CX04-2", "connected", 40)      # paid 15:00: DPD 0
    x.c("X-TPDPD-DPD0", lid, "2026-10-20 10:00:00", "sms", EC, "CX04-3", "delivered")               # nothing overdue


def _escalation(x: _EdgeBuilder) -> None:
    """TP-ESCALATION: not enough reminders to the borrower since the episode started."""
    lid = x.loan(5, inst=UNPAID)
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    for d, o in (("02", "no_answer"), ("03", "busy"), ("04", "no_answer")):
        x.c(None, lid, f"2026-09-{d} 11:00:00", "call", outcome=o)
    x.c("X-TPESC-01", lid, "2026-09-10 10:00:00", "call", EC, "CX05-1", "connected", 30)           # sms 1, email 0
    lid = x.loan(6, inst=UNPAID)
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-09-03 10:00:00", "sms", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-09-{d} 11:00:00", "call", outcome="failed")
    x.c("X-TPESC-FAILED", lid, "2026-09-11 10:00:00", "call", EC, "CX06-1", "connected", 30)       # failed calls
    lid = x.loan(7, inst=UNPAID)
    x.c(None, lid, "2026-09-01 14:00:00", "sms", outcome="delivered")   # on E itself: does not count
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 10:30:00", "email", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-09-{d} 11:00:00", "call", outcome="no_answer")
    x.c("X-TPESC-DAYE", lid, "2026-09-09 10:00:00", "call", EC, "CX07-1", "connected", 30)         # sms 1 (> E)
    x.c(None, lid, "2026-09-09 10:30:00", "sms", outcome="delivered")   # after the contact: does not count
    lid = x.loan(8, inst=CURED)
    x.c(None, lid, "2026-08-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-08-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-08-03 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-08-04 10:00:00", "sms", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-08-{d} 11:00:00", "call", outcome="no_answer")
    x.c("X-OK-TPESC-EPISODE1", lid, "2026-08-12 10:00:00", "call", EC, "CX08-1", "connected", 30)  # DPD 11
    x.c(None, lid, "2026-10-02 10:30:00", "email", outcome="delivered")
    for d in ("02", "03", "04"):
        x.c(None, lid, f"2026-10-{d} 11:00:00", "call", outcome="no_answer")
    x.c("X-TPESC-CURED", lid, "2026-10-12 10:00:00", "call", EC, "CX08-2", "connected", 30)        # SMS were episode 1


def _reachable(x: _EdgeBuilder) -> None:
    """TP-REACHABLE (unreachable_after_failed_calls: 3)."""
    lid = x.loan(9, inst=CURED)
    for d in ("05", "06", "07"):
        x.c(None, lid, f"2026-08-{d} 11:00:00", "call", outcome="no_answer")
    x.c(None, lid, "2026-10-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-10-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-10-02 15:00:00", "sms", outcome="delivered")
    x.c("X-TPREACH-OLD", lid, "2026-10-09 10:00:00", "call", EC, "CX09-1", "connected", 30)  # calls before E
    lid = x.loan(10, inst=UNPAID)
    x.prelude(lid, "2026-09-01")
    x.c(None, lid, "2026-09-08 10:00:00", "call", outcome="connected", dur=180, content="客户承诺下周还款。")
    x.c("X-TPREACH-CONN", lid, "2026-09-09 11:00:00", "call", EC, "CX10-1", "connected", 30)  # last call connected
    lid = x.loan(11, inst=UNPAID)
    x.c(None, lid, "2026-09-02 10:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 10:30:00", "email", outcome="delivered")
    x.c(None, lid, "2026-09-02 15:00:00", "sms", outcome="delivered")
    x.c(None, lid, "2026-09-02 11:00:00", "call", outcome="no_answer")
    x.c(None, lid, "2026-09-03 11:00:00", "call", outcome="no_answer")
    x.c("X-TPREACH-FEW", lid, "2026-09-10 10:00:00", "call", EC, "CX11-1", "connected", 30)   # only 2 calls


def _unregistered(x: _EdgeBuilder) -> None:
    """TP-UNREGISTERED (registered_only: true)."""
    lid = x.loan(12, inst=UNPAID)
    x.prelude(lid, "2026-09-01")
    name = x.p(lid)["name"]
    x.c("X-TPUNREG-TP", lid, "2026-09-09 10:00:00", "call", TP, "TX12-1", "connected", 60,
        f"同事称{name}上月已离职，不清楚去向。")
    x.c("X-TPUNREG-OTHER", lid, "2026-09-10 10:00:00", "call", EC, "CX01-1", "connected", 30)  # BX01's contact
    x.c("X-TPUNREG-UNKNOWN", lid, "2026-09-11 10:00:00", "sms", EC, "CX12-9", "delivered")
    x.c("X-OK-TPUNREG-REGISTERED", lid, "2026-09-12 10:00:00", "call", EC, "CX12-1", "connected", 30)


def _hours(x: _EdgeBuilder) -> None:
    """HOURS: on both sides of 08:00 and 22:00, in the borrower's zone, across clock changes."""
    # HOURS: 08:00:00 and 21:59:59 allowed, 07:59:59 and 22:00:00 not, in the borrower's zone.
    lid = x.loan(13, inst=PAID_OK)
    x.c("X-HOURS-0759", lid, "2026-09-28 07:59:59", "sms", outcome="delivered")
    x.c("X-OK-HOURS-0800", lid, "2026-09-28 08:00:00", "app_push", outcome="delivered")
    x.c("X-OK-HOURS-2159", lid, "2026-09-28 21:59:59", "sms", outcome="delivered")   # us-reg-f: flagged (21:00)
    x.c("X-HOURS-2200", lid, "2026-09-28 22:00:00", "sms", outcome="delivered")
    x.c("X-HOURS-Z", lid, None, "sms", outcome="delivered", ts="2026-09-28T23:30:00Z")  # 07:30 in Shanghai
    lid = x.loan(14, zone="America/New_York", inst=(("2026-10-20", "2060.00", "2026-10-19 10:00:00"),
                                                     ("2026-11-20", "2060.00", "2026-11-19 10:00:00")))
    x.c("X-HOURS-NY-EDT", lid, None, "sms", outcome="delivered", ts="2026-10-16T19:59:59+08:00")   # 07:59:59 EDT
    x.c("X-OK-HOURS-NY-EDT", lid, None, "sms", outcome="delivered", ts="2026-10-16T12:00:00Z")      # 08:00:00 EDT
    x.c("X-HOURS-NY-FALLBACK", lid, None, "sms", outcome="delivered", ts="2026-11-01T06:30:00Z")    # 01:30 EST
    x.c("X-HOURS-NY-EST", lid, None, "sms", outcome="delivered", ts="2026-11-02T12:59:59Z")         # 07:59:59 EST
    x.c("X-OK-HOURS-NY-EST", lid, None, "sms", outcome="delivered", ts="2026-11-02T08:00:00-05:00")
    x.c("X-HOURS-NY-2200", lid, None, "app_push", outcome="delivered", ts="2026-11-06T11:00:00+08:00")  # 22:00 EST
    lid = x.loan(15, zone="Europe/London", inst=(("2026-10-28", "2060.00", "2026-10-27 10:00:00"),))
    x.c("X-HOURS-LON-BST", lid, None, "sms", outcome="delivered", ts="2026-10-24T06:59:59Z")        # 07:59:59 BST
    x.c("X-OK-HOURS-LON-BST", lid, None, "sms", outcome="delivered", ts="2026-10-24T07:30:00Z")     # 08:30 BST
    x.c("X-HOURS-LON-GMT", lid, None, "sms", outcome="delivered", ts="2026-10-26T07:59:59+00:00")
    x.c("X-HOURS-LON-2200", lid, None, "sms", outcome="delivered", ts="2026-10-26 22:00:00+00:00")
    lid = x.loan(16, zone="", inst=(("2026-10-15", "2060.00", "2026-10-14 10:00:00"),))
    x.c("X-HOURS-DEFAULTZONE", lid, None, "sms", outcome="delivered", ts="2026-10-10T07:30:00+08:00")  # NY: 19:30
    x.c("X-HOURS-USZONE", lid, None, "sms", outcome="delivered", ts="2026-10-10T10:00:00+08:00")       # NY: 22:00


def _frequency(x: _EdgeBuilder) -> None:
    """Frequency limits: per local day, 7 x 24 h, and per third-party recipient across loans."""
    # Frequency: 4th call of a local day; ties broken by event_id; a local day that spans two Beijing dates.
    lid = x.loan(17, inst=UNPAID)
    for i, (h, o) in enumerate((("09", "no_answer"), ("11", "busy"), ("14", "no_answer"), ("17", "no_answer")), 1):
        x.c(f"X-FREQDAY-{i}" if i == 4 else f"X-OK-FREQDAY-{i}", lid, f"2026-09-15 {h}:00:00", "call", outcome=o)
    lid = x.loan(18, inst=UNPAID)
    for h in ("09", "10"):
        x.c(None, lid, f"2026-09-22 {h}:00:00", "call", outcome="no_answer")
    x.c("X-FREQDAY-TIE-A-OK", lid, "2026-09-22 12:00:00", "call", outcome="no_answer")  # same ts, sorts first: 3rd
    x.c("X-FREQDAY-TIE-B", lid, "2026-09-22 12:00:00", "call", outcome="busy")
    lid = x.loan(19, zone="America/New_York", inst=(("2026-10-01", "2060.00", None),))
    for h in ("09", "13", "20"):
        x.c(None, lid, f"2026-10-12 {h}:00:00", "call", outcome="no_answer")
    x.c("X-FREQDAY-NY-4", lid, "2026-10-12 20:30:00", "call", outcome="no_answer")   # Beijing: 10-13 08:30
    # 7 x 24 h: the 8th call within the window is flagged; the window's left end is open.
    lid = x.loan(20, inst=UNPAID)
    x.c(None, lid, "2026-09-20 10:00:00", "call", outcome="no_answer")
    x.c(None, lid, "2026-09-20 15:00:00", "call", outcome="busy")
    for d in range(21, 26):
        x.c(None, lid, f"2026-09-{d} 10:00:00", "call", outcome="no_answer")
    x.c("X-FREQ7D-8", lid, "2026-09-26 09:00:00", "call", outcome="no_answer")
    x.c("X-FREQ7D-9", lid, "2026-09-26 11:00:00", "call", outcome="busy")
    for n, (eid, t) in ((21, ("X-OK-FREQ7D-EXACT", "10:00:00")), (22, ("X-FREQ7D-EDGE", "09:59:59"))):
        lid = x.loan(n, inst=UNPAID)
        for d in range(20, 27):
            x.c(None, lid, f"2026-09-{d} 10:00:00", "call", outcome="no_answer")
        x.c(eid, lid, f"2026-09-27 {t}", "call", outcome="no_answer")
    # Third parties: one contact per recipient per local day, across the borrower's loans.
    lid = x.loan(23, inst=UNPAID)
    lid2 = x.loan(24, inst=UNPAID, borrower=23)
    x.prelude(lid, "2026-09-01")
    x.prelude(lid2, "2026-09-01")
    x.c("X-OK-FREQTP-1", lid, "2026-09-10 10:00:00", "call", EC, "CX23-1", "no_answer")
    x.c("X-FREQTP-2", lid, "2026-09-10 15:00:00", "sms", EC, "CX23-1", "delivered")
    x.c("X-OK-FREQTP-OTHER", lid, "2026-09-10 16:00:00", "call", EC, "CX23-2", "no_answer")
    x.c("X-OK-FREQTP-NEXTDAY", lid, "2026-09-11 10:00:00", "call", EC, "CX23-1", "no_answer")
    x.c("X-OK-FREQTP-XLOAN-1", lid, "2026-09-12 10:00:00", "call", EC, "CX23-3", "no_answer")
    x.c("X-FREQTP-XLOAN", lid2, "2026-09-12 14:00:00", "call", EC, "CX23-3", "no_answer")


def _pii_third_party(x: _EdgeBuilder) -> None:
    """PII-THIRD-PARTY: the borrower's identifiers in a message to an emergency contact."""
    lid = x.loan(25, inst=UNPAID)
    x.prelude(lid, "2026-09-01")
    p = x.p(lid)
    ph, card, addr = p["phone"], p["bank_card"], p["address"]
    spaced_addr = addr.replace("区", "区 ").replace("号", "号 ")
    fullwidth = "".join(chr(ord(ch) + 0xFEE0) for ch in ph)
    x.c("X-PIITP-ID", lid, "2026-09-09 10:00:00", "sms", EC, "CX25-1", "delivered",
        content=f"您好，{p['name']}（身份证号{p['id_number']}）预留了您的联系方式，请转告其尽快回电。")
    x.c("X-PIITP-PHONE", lid, "2026-09-10 10:00:00", "call", EC, "CX25-2", "connected", 60,
        f"已请联系人转告借款人，借款人手机{ph[:3]}-{ph[3:7]}-{ph[7:]}。")
    x.c("X-PIITP-CARD", lid, "2026-09-11 10:00:00", "im", EC, "CX25-3", "read",
        content=f"请转告{p['name']}，尽快向其银行卡{' '.join(card[i:i + 4] for i in range(0, len(card), 4))}存款。")
    x.c("X-PIITP-ADDR", lid, "2026-09-12 10:00:00", "call", EC, "CX25-1", "connected", 90,
        f"向联系人核实住址：{spaced_addr}，联系人称已搬走。")
    x.c("X-PIITP-FULLWIDTH", lid, "2026-09-13 10:00:00", "call", EC, "CX25-2", "connected", 60,
        f"请联系人转告借款人开机，号码{fullwidth}。")
    x.c("X-OK-PIITP-MASKED", lid, "2026-09-14 10:00:00", "sms", EC, "CX25-3", "delivered",
        content=f"您好，请转告{p['name']}（手机{ph[:3]}****{ph[7:]}，身份证{p['id_number'][:6]}********"
                f"{p['id_number'][14:]}）尽快回电，谢谢。")


def _pii_unmasked(x: _EdgeBuilder) -> None:
    """PII-UNMASKED: full, valid identifiers of anyone in a message; masked or invalid ones are fine."""
    lid = x.loan(26, inst=PAID_OK)
    p = x.p(lid)
    other = x.person(30)
    id_x = next(v for v in (_valid_id(f"11010519491231{i:03d}") for i in range(100, 1000)) if v.endswith("X"))
    card19 = _valid_card("6217000101234567" + "89")
    card16 = _valid_card("622588012345678")
    bad_luhn = card16[:-1] + str((int(card16[-1]) + 5) % 10)
    # A wrong check digit that does not happen to make the 18 digits a Luhn-valid card number either.
    bad_check = next(p["id_number"][:17] + d for d in "0123456789"
                     if d != p["id_number"][17] and d != luhn_check_digit(p["id_number"][:17]))
    future = _valid_id("11010520300101123")
    mob = x.ec_phones[0]
    ec_ph = x.ec_phones[3 * 26 + 1]
    t = p["title"]
    x.c("X-PIIUM-ID", lid, "2026-10-05 10:00:00", "sms", outcome="delivered",
        content=f"{TAG}{p['name']}您好，您登记的身份证号为{p['id_number']}，如信息有误请联系客服。")
    x.c("X-PIIUM-IDX", lid, "2026-10-05 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}请核对共同借款人身份证号{id_x[:-1]}x。")
    x.c("X-PIIUM-CARD", lid, "2026-10-05 12:00:00", "email", outcome="delivered",
        content=f"尊敬的{t}：您的还款账户{'-'.join(p['bank_card'][i:i + 4] for i in range(0, len(p['bank_card']), 4))}"
                f"本期扣款失败，请及时处理。")
    x.c("X-PIIUM-CARD19", lid, "2026-10-05 13:00:00", "sms", outcome="delivered",
        content=f"{TAG}{t}，请向还款账户{card19}转入本期应还金额。")
    x.c("X-PIIUM-MOBILE", lid, "2026-10-05 14:00:00", "sms", outcome="delivered",
        content=f"{TAG}如有疑问请联系您的专属客服经理+86 {mob[:3]}-{mob[3:7]}-{mob[7:]}。")
    x.c("X-PIIUM-MOBILE-EC", lid, "2026-10-05 15:00:00", "app_push", outcome="delivered",
        content=f"您的紧急联系人电话0086{ec_ph}已核实。")
    x.c("X-PIIUM-LETTER", lid, "2026-10-06 10:00:00", "letter", outcome="delivered",
        content=f"【还款通知函】{p['name']}（身份证号{p['id_number']}）：请于七日内处理您的账单。{BRAND}")
    x.c("X-OK-PIIUM-MASKED", lid, "2026-10-06 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}{t}，您的身份证{p['id_number'][:6]}********{p['id_number'][14:]}、手机"
                f"{p['phone'][:3]}****{p['phone'][7:]}、尾号{p['bank_card'][-4:]}的银行卡均已验证。")
    x.c("X-OK-PIIUM-BADCHECK", lid, "2026-10-06 12:00:00", "sms", outcome="delivered",
        content=f"{TAG}系统记录的证件号{bad_check}与实名信息不符，请更新。")
    x.c("X-OK-PIIUM-BADLUHN", lid, "2026-10-06 13:00:00", "sms", outcome="delivered",
        content=f"{TAG}参考编号{bad_luhn}，请在App中查看。")
    x.c("X-OK-PIIUM-EMBEDDED", lid, "2026-10-06 14:00:00", "sms", outcome="delivered",
        content=f"{TAG}交易流水号8{p['id_number'][:17]}{p['id_number'][17] if p['id_number'][17] != 'X' else '0'}6"
                f"9{mob}3已受理。")
    x.c("X-OK-PIIUM-FUTUREBIRTH", lid, "2026-10-06 15:00:00", "sms", outcome="delivered",
        content=f"{TAG}测试证件号{future}不会被发送给客户。")
    x.c("X-OK-PIIUM-VISITNOTE", lid, "2026-10-07 10:00:00", "visit", outcome="failed",
        content=f"上门核实身份证{p['id_number']}，本人不在。")
    x.c("X-OK-PIIUM-LANDLINE", lid, "2026-10-07 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}客服电话010-88886666，工作时间9:00-18:00。")


def _disclosure(x: _EdgeBuilder) -> None:
    """TP-DISCLOSURE: debt words, the overdue amount or the principal in a third-party message."""
    lid = x.loan(27, principal="9000.00", inst=(("2026-09-01", "3000.00", None), ("2026-10-01", "3000.00", None),
                                                 ("2026-11-01", "3000.00", None)))
    x.prelude(lid, "2026-09-01")
    name = x.p(lid)["name"]
    x.c("X-TPDISC-TERM", lid, "2026-09-09 10:00:00", "sms", EC, "CX27-1", "delivered",
        content=f"您好，{name}的借款已逾期，请您转告其尽快处理。")
    x.c("X-TPDISC-AMOUNT", lid, "2026-09-10 10:00:00", "call", EC, "CX27-2", "connected", 80,
        "告知联系人借款人需还款3,000.00元，请其转告。")
    x.c("X-TPDISC-PRINCIPAL", lid, "2026-09-11 10:00:00", "sms", EC, "CX27-3", "delivered",
        content=f"您好，{name}在我司办理的9000元借款需要本人处理，请转告其回电。")
    x.c("X-TPDISC-EN", lid, "2026-09-12 10:00:00", "email", EC, "CX27-1", "delivered",
        content=f"Dear Sir or Madam, please ask {name} to contact Hengxin Finance about an outstanding debt.")
    x.c("X-TPDISC-CASE", lid, "2026-09-13 10:00:00", "sms", EC, "CX27-2", "delivered",
        content=f"This is the COLLECTION team of Hengxin Finance. Please ask {name} to call {HOTLINE}.")
    x.c("X-TPDISC-QIANKUAN", lid, "2026-09-14 10:00:00", "call", EC, "CX27-3", "connected", 70,
        f"告知联系人{name}有欠款未处理。")
    x.c("X-TPDISC-CUISHOU", lid, "2026-09-15 10:00:00", "sms", EC, "CX27-1", "delivered",
        content=f"您好，我们是{BRAND}催收部门，请转告{name}回电。")
    x.c("X-OK-TPDISC-NUMBERS", lid, "2026-09-16 10:00:00", "call", EC, "CX27-2", "connected", 40,
        "联系人称不清楚30000元或3000.5元的事情。")
    x.c("X-OK-TPDISC-BORROWER", lid, "2026-09-16 11:00:00", "sms", outcome="delivered",
        content=f"{TAG}您的借款已逾期15天，应还3000.00元，请尽快还款。")


def _regulation_f(x: _EdgeBuilder) -> None:
    """SPEC 4b: DNC, the quiet days after a conversation, frequency limits with an outcomes filter."""
    # SPEC 4b. DNC: contacts after the recipient asked not to be contacted.
    lid = x.loan(28, inst=UNPAID)
    x.prelude(lid, "2026-09-01")
    x.c("X-OK-DNC-BEFORE", lid, "2026-09-04 10:00:00", "call", outcome="no_answer")
    x.c("X-OK-DNC-SRC", lid, "2026-09-05 10:00:00", "call", outcome="do_not_contact", dur=40,
        content="客户要求不要再打电话，称会自行还款。")
    x.c("X-DNC-CALL", lid, "2026-09-06 10:00:00", "call", outcome="no_answer")
    x.c("X-DNC-SMS", lid, "2026-09-06 12:00:00", "sms", outcome="delivered")
    x.c("X-OK-DNC-EC-SRC", lid, "2026-09-10 10:00:00", "call", EC, "CX28-1", "do_not_contact", 30,
        "联系人要求不要再联系他。")
    x.c("X-DNC-EC", lid, "2026-09-12 10:00:00", "sms", EC, "CX28-1", "delivered")
    x.c("X-OK-DNC-OTHER", lid, "2026-09-13 10:00:00", "call", EC, "CX28-2", "connected", 30)
    # QUIET-AFTER-CONVERSATION (days: 7): the conversation day is day 1.
    lid = x.loan(29, inst=UNPAID)
    x.c("X-OK-QUIET-SRC", lid, "2026-09-10 10:00:00", "call", outcome="connected", dur=180,
        content="客户本人接听，承诺月底前还清。")
    x.c("X-QUIET-SAMEDAY", lid, "2026-09-10 16:00:00", "call", outcome="no_answer")
    x.c("X-OK-QUIET-SMS", lid, "2026-09-11 10:00:00", "sms", outcome="delivered")
    x.c("X-QUIET-DAY7", lid, "2026-09-16 10:00:00", "call", outcome="no_answer")
    x.c("X-OK-QUIET-DAY8", lid, "2026-09-17 10:00:00", "call", outcome="no_answer")
    # Frequency limits with an outcomes filter: connected calls per loan-day, unanswered attempts per recipient-day.
    lid = x.loan(30, inst=UNPAID)
    for day, tag in (("15", ""), ("22", "B")):
        for i, h in enumerate(("09", "11", "14", "16"), 1):
            x.c(f"X-FREQCONN-{tag}{i}" if i == 4 else f"X-OK-FREQCONN-{tag}{i}", lid, f"2026-09-{day} {h}:00:00",
                "call", outcome="connected", dur=60 + 10 * i, content="客户本人接听，表示正在筹钱。")
    lid = x.loan(31, inst=UNPAID)
    outs = ("no_answer", "busy", "voicemail", "no_answer", "failed", "no_answer", "busy")
    for day, tag in (("15", ""), ("22", "B")):
        for i, (h, o) in enumerate(zip(("08:30", "10:00", "11:30", "13:00", "14:30", "16:00", "17:30"), outs), 1):
            x.c(f"X-FREQUNANS-{tag}{i}" if i == 7 else f"X-OK-FREQUNANS-{tag}{i}", lid, f"2026-09-{day} {h}:00",
                "call", outcome=o, dur=20 if o == "voicemail" else None)


def _bad_rows(x: _EdgeBuilder) -> tuple[list[dict], list[dict]]:
    """Rows the loader must reject (or count as duplicates): contact rows and instalment rows."""
    x.c("X-DUP-SAME", "LX13", "2026-09-29 10:00:00", "sms", outcome="delivered", file="a")
    x.c("X-CASE-ENUM", "LX13", "2026-09-29 11:00:00", "SMS", "Borrower", outcome="Delivered", file="b", agent=None,
        content=f"{TAG}{x.p('LX13')['title']}，您的还款计划已更新，请登录App查看。")
    dup = dict(x.contacts[-2])
    good = dict(dup, event_id=None, file=None)
    bad = [
        dict(good, event_id="BAD-CHANNEL", channel="fax", file="a"),
        dict(good, event_id="BAD-LOAN", loan_id="L9999999", file="b"),
        dict(good, event_id="", content="missing event id", file="a"),
        dict(good, event_id="BAD-TS", ts="2026-09-31T10:00:00+08:00", file="a"),
        dict(good, event_id="BAD-EC-NORID", recipient_type=EC, recipient_id=None, file="b"),
        dict(good, event_id="BAD-DURATION", channel="call", outcome="no_answer", duration_s=-30, content="无人接听",
             agent_id="A14", file="b"),
        dict(good, event_id="BAD-OUTCOME", outcome="hung_up", file="b"),
        dict(good, event_id="X-DUP-CONFLICT", file="b"),
        dict(good, event_id="X-DUP-CONFLICT", content=good["content"] + "（重发）", file="resend"),
        dict(dup, file="resend"),
    ]
    bad_inst = [
        {"loan_id": "LX01", "seq": "90", "due_date": "2026-12-01", "amount_due": "0.00", "paid_at": None},
        {"loan_id": "LX02", "seq": "91", "due_date": "2026-02-30", "amount_due": "100.00", "paid_at": None},
        {"loan_id": "L9999999", "seq": "1", "due_date": "2026-09-01", "amount_due": "100.00", "paid_at": None},
        {"loan_id": "LX03", "seq": "0", "due_date": "2026-09-01", "amount_due": "100.00", "paid_at": None},
    ]
    return bad, bad_inst


def _edge_cases() -> tuple[_EdgeBuilder, list[dict], list[dict]]:
    """The deliberate cases, in a fixed order. Returns the builder, bad contact rows and bad instalment rows."""
    x = _EdgeBuilder()
    for place in (_third_party_dpd, _escalation, _reachable, _unregistered, _hours,
                  _frequency, _pii_third_party, _pii_unmasked, _disclosure, _regulation_f):
        place(x)
    bad, bad_inst = _bad_rows(x)
    return x, bad, bad_inst
