#!/usr/bin/python3
"""Real mail clients for the end-to-end tests, run inside the client namespace. One JSON object on stdout.

  login HOST USER PASS                      IMAP 143, STARTTLS, LOGIN; INBOX subjects
  wait HOST USER PASS SUBJECT [SECONDS [MAILBOX]]
                                            poll INBOX (or MAILBOX) until a message with SUBJECT arrives; its
                                            From, Return-Path and X-Spam too
  send HOST PORT FROM TO SUBJECT [USER PASS]  SMTP; STARTTLS (and AUTH when USER is given)
  sendwith HOST PORT FROM TO SUBJECT HEADERS [PAD [nosize]]
                                            port 25 with extra header lines (newline-separated) and PAD more
                                            bytes of body, announced with SIZE= in MAIL FROM (not with nosize)
  sievescript HOST USER PASS NAME SCRIPT [none]
                                            ManageSieve (4190, STARTTLS): upload SCRIPT as NAME, make it active;
                                            with "none", without STARTTLS
  sendutf8 HOST PORT FROM TO SUBJECT [ENVELOPE]
                                            SMTP with STARTTLS as an EAI client sends: MAIL FROM ... SMTPUTF8
                                            BODY=8BITMIME, a well-formed message (Date, Message-ID) with raw
                                            UTF-8 in From and Subject (RFC 6531/6532); ENVELOPE: another MAIL FROM
                                            address (e.g. ASCII) than the From: header's
  folders HOST USER PASS                    IMAP LIST "" "*": every mailbox name (decoded from modified UTF-7)
  folder HOST USER PASS create|delete NAME  IMAP CREATE or DELETE; the server's answer
  folder HOST USER PASS rename OLD NEW      IMAP RENAME
  folder HOST USER PASS append NAME SUBJECT [BODY]
                                            IMAP APPEND of a small message (or one with BODY)
  folder HOST USER PASS move FROM TO SUBJECT  IMAP UID MOVE of the FROM messages with SUBJECT into TO
  folder HOST USER PASS copy NAME SUBJECT   IMAP COPY of the INBOX messages with SUBJECT into NAME
  folder HOST USER PASS subjects NAME       the subjects of the messages in NAME
  cert HOST PORT imap|smtp|https CAFILE [SNI]
                                            handshake verified against CAFILE: issuer, names, serial (SNI: the name
                                            asked for; default HOST, and none when HOST is an address)
  plainlogin HOST imap|smtp USER PASS       try AUTH/LOGIN before STARTTLS
  plaintext HOST imap|smtp USER PASS        raw AUTH/LOGIN before STARTTLS, then the same after it (control)
  search HOST USER PASS TEXT [N SECONDS]    subjects containing TEXT; with N, poll until N of them are there
  flood HOST TO PREFIX STOPFILE MAX SECONDS USER PASS [PAUSE]
                                            one message after another (port 25, then 587 as USER), PAUSE
                                            seconds apart, until STOPFILE exists, MAX messages or SECONDS;
                                            a JSON line per message
  cipher HOST PORT imap|smtp|none SUITE [SNI]
                                            TLS 1.2 offering only SUITE (none: implicit TLS, as on 443)
  tls HOST PORT imap|smtp VERSION           `openssl s_client -starttls` offering only VERSION (tls1, tls1_1,
                                            tls1_2, tls1_3), at SECLEVEL 0 so that only the server can refuse
  tlscontrol imap|smtp VERSION              the same s_client command against a local `openssl s_server`
                                            that accepts VERSION (behind a small STARTTLS front)
  burst HOST PORT FROM TO PREFIX N USER PASS  up to N messages in one authenticated session, until one is refused
  message HOST PORT FROM TO SUBJECT HEADERFROM BODY [USER PASS]
                                            like send, with another From: header and body (a forged From:,
                                            GTUBE); the server's answer to DATA
  dkim HOST USER PASS SUBJECT RECORDS       the INBOX message with SUBJECT, verified by dkimpy with the DKIM
                                            TXT records given as JSON ({name: value}) instead of DNS: the d= and
                                            s= of each DKIM-Signature and whether it verifies
  port HOST PORT                            whether a TCP connection is accepted
  flags HOST USER PASS [MAILBOX]            every message of MAILBOX (INBOX): subject and IMAP flags (sorted)
  mailboxes HOST USER PASS                  every mailbox: UIDVALIDITY, and each message's UID, subject and flags
  setflags HOST USER PASS SUBJECT FLAGS     STORE +FLAGS (e.g. "\\Seen \\Flagged $Label1") on the INBOX messages with SUBJECT
  expunge HOST USER PASS                    delete every message of INBOX (STORE \\Deleted, EXPUNGE)
  hold HOST USER PASS STOPFILE [SECONDS]    log in and select INBOX, print {"ready": true}, keep the session
                                            until STOPFILE exists, then use it again (NOOP, SELECT, subjects)
"""
import base64
import email
import email.policy
import http.client
import email.utils
import imaplib
import json
import os
import re
import select
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


# MAILCLIENT_SOURCE: the client address to connect from (a second address of the client namespace), for tests
# that need one address throttled or banned and another one not.
SOURCE = os.environ.get("MAILCLIENT_SOURCE")


class SourceIMAP(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(SOURCE, 0) if SOURCE else None)


def out(**kw):
    print(json.dumps(kw))


def loose():
    # The tests check the certificate separately (`cert`); here only the protocol matters.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def headers(raw):
    """Header fields as a reader sees them: raw UTF-8 (RFC 6532) and RFC 2047 encoded words both decoded."""
    return email.message_from_string(raw.decode("utf-8", errors="replace"), policy=email.policy.default)


def subjects(imap, mailbox="INBOX"):
    return [m["subject"] for m in messages(imap, mailbox)]


def fetch_all(imap, mailbox, items):
    """(meta, data) of ITEMS for every message of MAILBOX, selected read-only."""
    typ, data = imap.select(quoted(mailbox), readonly=True)
    if typ != "OK":
        raise imaplib.IMAP4.error(f"SELECT {mailbox}: {data}")
    _, data = imap.search(None, "ALL")
    for num in data[0].split():
        _, msg = imap.fetch(num, items)
        yield msg[0][0].decode(), msg[0][1]


def messages(imap, mailbox="INBOX"):
    found = []
    for _, head in fetch_all(imap, mailbox, "(BODY.PEEK[HEADER.FIELDS (SUBJECT FROM RETURN-PATH X-SPAM)])"):
        h = headers(head)
        found.append(dict(subject=str(h.get("Subject", "")), sender=str(h.get("From", "")),
                          returnPath=str(h.get("Return-Path", "")), xSpam=h.get("X-Spam")))
    return found


def flags(host, user, password, mailbox="INBOX"):
    imap = imap_session(host, user, password)
    found = []
    for meta, head in fetch_all(imap, mailbox, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"):
        m = re.search(r"FLAGS \(([^)]*)\)", meta)
        found.append(dict(subject=str(headers(head).get("Subject", "")),
                          flags=sorted(f for f in (m.group(1).split() if m else []) if f != "\\Recent")))
    imap.logout()
    out(ok=True, messages=sorted(found, key=lambda x: x["subject"]))


def setflags(host, user, password, subject, flag_list):
    imap = imap_session(host, user, password)
    imap.select("INBOX")
    _, data = imap.search(None, "SUBJECT", quoted(subject))
    nums = data[0].split()
    for num in nums:
        imap.store(num, "+FLAGS", "(" + flag_list + ")")
    imap.logout()
    out(ok=len(nums) > 0, count=len(nums))


def expunge(host, user, password):
    imap = imap_session(host, user, password)
    imap.select("INBOX")
    _, data = imap.search(None, "ALL")
    nums = data[0].split()
    for num in nums:
        imap.store(num, "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.logout()
    out(ok=True, count=len(nums))


def quoted(name):
    """An IMAP quoted string (imaplib sends arguments as they are); names here are ASCII or modified UTF-7."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_session(host, user, password):
    imap = SourceIMAP(host, 143, timeout=20)
    imap.starttls(ssl_context=loose())
    imap.login(user, password)
    return imap


def login(host, user, password):
    try:
        imap = imap_session(host, user, password)
    except (imaplib.IMAP4.error, OSError) as e:
        return out(ok=False, error=str(e))
    found = subjects(imap)
    imap.logout()
    out(ok=True, subjects=found)


def wait(host, user, password, subject, seconds="30", mailbox="INBOX"):
    deadline = time.time() + float(seconds)
    found = []
    while time.time() < deadline:
        imap = imap_session(host, user, password)
        found = messages(imap, mailbox)
        imap.logout()
        match = [m for m in found if m["subject"] == subject]
        if match:
            return out(ok=True, subjects=[m["subject"] for m in found], sender=match[0]["sender"],
                       returnPath=match[0]["returnPath"], xSpam=match[0]["xSpam"])
        time.sleep(0.5)
    out(ok=False, subjects=[m["subject"] for m in found])


def submit(host, port, sender, rcpt, subject, user=None, password=None, tls=True, helo="client.example",
           header_from=None, body="mailstack end-to-end test", extra="", pad=0, announce=True):
    """One message; the result names the stage that failed and the server's code and text. HEADER_FROM, BODY:
    another From: header and body; EXTRA: header lines (separated by newlines); PAD: that many more bytes of body,
    and the size announced in MAIL FROM (SIZE=)."""
    head = "".join(f"{h}\r\n" for h in extra.split("\n") if h)
    text = f"{body}\r\n" + ("x" * 76 + "\r\n") * (int(pad) // 78)
    msg = (f"From: {header_from or sender or 'nobody@client.example'}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Date: {email.utils.formatdate()}\r\nMessage-ID: {email.utils.make_msgid()}\r\n{head}\r\n{text}")
    options = [f"SIZE={len(msg.encode())}"] if int(pad) and announce else []
    stage = "connect"
    try:
        with smtplib.SMTP(host, int(port), local_hostname=helo, timeout=20,
                          source_address=(SOURCE, 0) if SOURCE else None) as smtp:
            stage = "ehlo"
            smtp.ehlo()
            if tls:
                stage = "starttls"
                smtp.starttls(context=loose())
                smtp.ehlo()
            if user:
                stage = "auth"
                # AUTH PLAIN once (smtp.login would retry a refused login with the next mechanism)
                smtp.user, smtp.password = user, password
                smtp.auth("PLAIN", smtp.auth_plain)
            for stage, cmd in (("mail", lambda: smtp.mail(sender, options)), ("rcpt", lambda: smtp.rcpt(rcpt))):
                code, text = cmd()
                if code != 250:
                    return dict(ok=False, stage=stage, code=code, error=text.decode(errors="replace"))
            stage = "data"
            code, text = smtp.data(msg.encode())
            text = text.decode(errors="replace")
            if code != 250:
                return dict(ok=False, stage=stage, code=code, error=text)
            m = re.search(r"queued as (\S+)", text)
            return dict(ok=True, code=code, queued=m.group(1) if m else None)
    except smtplib.SMTPResponseException as e:
        return dict(ok=False, stage=stage, code=e.smtp_code, error=e.smtp_error.decode(errors="replace"))
    except (smtplib.SMTPException, OSError) as e:
        return dict(ok=False, stage=stage, code=None, error=f"{type(e).__name__}: {e}")


def starttls(host, port):
    """An SMTP session to HOST:PORT from this client, past STARTTLS (any certificate) and the EHLO after it."""
    smtp = smtplib.SMTP(host, int(port), local_hostname="client.example", timeout=20,
                        source_address=(SOURCE, 0) if SOURCE else None)
    try:
        smtp.ehlo()
        smtp.starttls(context=loose())
        smtp.ehlo()
    except BaseException:
        smtp.close()
        raise
    return smtp


def burst(host, port, sender, rcpt, prefix, count, user, password):
    """Up to COUNT messages in one authenticated session, as fast as the server takes them, until one is refused:
    a rate limit is then reached by the count, not by how fast this machine happens to be."""
    results = []
    try:
        with starttls(host, port) as smtp:
            smtp.user, smtp.password = user, password
            smtp.auth("PLAIN", smtp.auth_plain)
            for i in range(int(count)):
                msg = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {prefix} {i}\r\n\r\nmailstack end-to-end test\r\n"
                code, text = smtp.mail(sender)
                if code == 250:
                    code, text = smtp.rcpt(rcpt)
                if code == 250:
                    code, text = smtp.data(msg.encode())
                ok = code == 250
                results.append(dict(ok=ok, code=code, error=None if ok else text.decode(errors="replace")))
                if not ok:
                    break
                smtp.rset()
    except (smtplib.SMTPException, OSError) as e:
        results.append(dict(ok=False, code=None, error=f"{type(e).__name__}: {e}"))
    out(ok=True, results=results)


def send(host, port, sender, rcpt, subject, user=None, password=None):
    out(**submit(host, port, sender, rcpt, subject, user, password))


def sendwith(host, port, sender, rcpt, subject, extra, pad="0", size="size"):
    out(**submit(host, port, sender, rcpt, subject, extra=extra, pad=pad, announce=size != "nosize"))


def sendraw(host, port, sender, rcpt, path):
    """The message in PATH as it is (a report with its attachment), over STARTTLS."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        with starttls(host, port) as smtp:
            smtp.sendmail(sender, [rcpt], data)
        out(ok=True)
    except (smtplib.SMTPException, OSError) as e:
        out(ok=False, error=f"{type(e).__name__}: {e}")


def sieve_command(f, line, literal=None):
    """One ManageSieve command (RFC 5804); the response lines up to OK/NO/BYE, and whether it was OK."""
    f.write(line.encode() + b"\r\n")
    if literal is not None:
        f.write(literal)
    f.flush()
    return sieve_response(f)


def sieve_response(f):
    lines = []
    while True:
        raw = f.readline()
        if not raw:
            return False, lines + ["(connection closed)"]
        line = raw.decode(errors="replace").rstrip("\r\n")
        lines.append(line)
        m = re.match(r"^\{(\d+)\}$", line)
        if m:  # a literal inside a response (a long capability or error text)
            lines.append(f.read(int(m.group(1))).decode(errors="replace"))
            continue
        word = line.split(" ", 1)[0].upper()
        if word in ("OK", "NO", "BYE"):
            return word == "OK", lines


def sieve_open(host, steps, tls="starttls"):
    """A ManageSieve connection to 4190, after STARTTLS unless TLS is "none"; None (and why, in steps) if refused."""
    sock = socket.create_connection((host, 4190), timeout=20)
    f = sock.makefile("rwb")
    ok, lines = sieve_response(f)
    steps.append(("greeting", ok, lines))
    if not ok or not any(l.upper().startswith('"STARTTLS"') for l in lines):
        steps.append(("starttls", False, ["no STARTTLS offered"]))
        return None
    if tls == "starttls":
        ok, lines = sieve_command(f, "STARTTLS")
        steps.append(("starttls", ok, lines))
        if not ok:
            return None
        sock = loose().wrap_socket(sock, server_hostname=host)
        f = sock.makefile("rwb")
        ok, lines = sieve_response(f)  # the capabilities again, now over TLS
        steps.append(("capabilities", ok, lines))
    return f


def sieve_auth(user, password):
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    return ("authenticate", f'AUTHENTICATE "PLAIN" "{plain}"', None), plain


def sievelogin(host, user, password):
    """ManageSieve on 4190: STARTTLS and AUTHENTICATE PLAIN, nothing else (the user's scripts stay as they are)."""
    steps = []
    try:
        f = sieve_open(host, steps)
        if f is None:
            return out(ok=False, steps=steps)
        (what, line, _), _plain = sieve_auth(user, password)
        ok, _lines = sieve_command(f, line)
        if ok:
            sieve_command(f, "LOGOUT")
        out(ok=ok)
    except OSError as e:
        out(ok=False, steps=steps, error=f"{type(e).__name__}: {e}")


def sievescript(host, user, password, name, script, tls="starttls"):
    """ManageSieve on 4190: STARTTLS, AUTHENTICATE PLAIN, PUTSCRIPT NAME, SETACTIVE NAME (no Python client needed).
    TLS "none": the same without STARTTLS (the server must refuse the login)."""
    steps = []
    try:
        f = sieve_open(host, steps, tls)
        if f is None:
            return out(ok=False, steps=steps, error=steps[-1][2][0] if steps[-1][2] else "refused")
        auth, plain = sieve_auth(user, password)
        data = script.encode()
        for what, line, literal in (
                auth,
                ("putscript", f'PUTSCRIPT "{name}" {{{len(data)}+}}', data + b"\r\n"),
                ("setactive", f'SETACTIVE "{name}"', None),
                ("listscripts", "LISTSCRIPTS", None)):
            ok, lines = sieve_command(f, line, literal)
            steps.append((what, ok, [l for l in lines if what != "authenticate" or plain not in l]))
            if not ok:
                return out(ok=False, steps=steps)
        sieve_command(f, "LOGOUT")
        out(ok=True, steps=steps)
    except OSError as e:
        out(ok=False, steps=steps, error=f"{type(e).__name__}: {e}")


def sendutf8(host, port, sender, rcpt, subject, envelope=None):
    """What an EAI-capable client sends: the UTF-8 envelope sender (or ENVELOPE) with SMTPUTF8 (asked for even
    when the server does not offer it, as the server then has to refuse in the dialogue), and a well-formed
    message whose header fields are raw UTF-8."""
    envelope = envelope or sender
    msg = (f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Date: {email.utils.formatdate(localtime=True)}\r\n"
           f"Message-ID: {email.utils.make_msgid(domain=email.utils.parseaddr(sender)[1].rsplit('@', 1)[-1])}\r\n"
           f"MIME-Version: 1.0\r\n"
           f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           f"mailstack end-to-end test, grüße\r\n").encode()
    stage, offered = "connect", None
    try:
        with smtplib.SMTP(host, int(port), local_hostname="client.example", timeout=20) as smtp:
            stage = "ehlo"
            smtp.ehlo()
            stage = "starttls"
            smtp.starttls(context=loose())
            smtp.ehlo()
            offered = smtp.has_extn("smtputf8")
            # smtplib's mail() encodes the address as ASCII: the command goes out as UTF-8 bytes by hand.
            for stage, line in (("mail", f"MAIL FROM:<{envelope}> SMTPUTF8 BODY=8BITMIME"), ("rcpt", f"RCPT TO:<{rcpt}>")):
                smtp.send(line.encode() + b"\r\n")
                code, text = smtp.getreply()
                if code != 250:
                    return out(ok=False, stage=stage, code=code, error=text.decode(errors="replace"), smtputf8=offered)
            stage = "data"
            code, text = smtp.data(msg)
            text = text.decode(errors="replace")
            if code != 250:
                return out(ok=False, stage=stage, code=code, error=text, smtputf8=offered)
            m = re.search(r"queued as (\S+)", text)
            out(ok=True, code=code, queued=m.group(1) if m else None, smtputf8=offered)
    except smtplib.SMTPResponseException as e:
        out(ok=False, stage=stage, code=e.smtp_code, error=e.smtp_error.decode(errors="replace"), smtputf8=offered)
    except (smtplib.SMTPException, OSError) as e:
        out(ok=False, stage=stage, code=None, error=f"{type(e).__name__}: {e}", smtputf8=offered)


def utf7_decode(name):
    """IMAP modified UTF-7 (RFC 3501 5.1.3) to text."""
    def part(m):
        b64 = m.group(1).replace(",", "/")
        return base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be") if b64 else "&"
    return re.sub(r"&([A-Za-z0-9+,]*)-", part, name)


def mailbox_list(imap):
    """(name as the server spells it, in modified UTF-7; its LIST attributes) of every mailbox."""
    _, data = imap.list('""', "*")
    found = []
    for line in data:
        line = line.decode() if isinstance(line, bytes) else line[0].decode() + line[1].decode()
        m = re.match(r'\((?P<flags>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$', line)
        name = m.group("name")
        if name.startswith('"'):
            name = re.sub(r'\\(.)', r"\1", name[1:-1])
        found.append((name, m.group("flags")))
    return found


def mailbox_names(imap):
    return [utf7_decode(name) for name, _ in mailbox_list(imap)]


def every_mailbox(host, user, password):
    """Every selectable mailbox: its UIDVALIDITY and each message's UID, subject and flags (what a client caches)."""
    imap = imap_session(host, user, password)
    found = {}
    for name, attrs in mailbox_list(imap):
        if "\\noselect" in attrs.lower():
            continue
        _, status = imap.status(quoted(name), "(UIDVALIDITY)")
        validity = int(re.search(rb"UIDVALIDITY (\d+)", status[0]).group(1))
        msgs = [dict(uid=int(re.search(r"\bUID (\d+)", meta).group(1)), subject=str(headers(head).get("Subject", "")),
                     flags=sorted(f for f in re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split() if f != "\\Recent"))
                for meta, head in fetch_all(imap, name, "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")]
        found[utf7_decode(name)] = dict(uidvalidity=validity, messages=sorted(msgs, key=lambda m: m["uid"]))
    imap.logout()
    out(ok=True, mailboxes=found)


def folders(host, user, password):
    imap = imap_session(host, user, password)
    try:
        out(ok=True, folders=mailbox_names(imap))
    finally:
        imap.logout()


def folder(host, user, password, op, name, arg=None, arg2=None):
    imap = imap_session(host, user, password)
    try:
        if op == "subjects":
            return out(ok=True, subjects=subjects(imap, name))
        if op == "create":
            typ, data = imap.create(quoted(name))
            if typ == "OK":
                typ, data = imap.subscribe(quoted(name))
        elif op == "delete":
            typ, data = imap.delete(quoted(name))
        elif op == "rename":
            typ, data = imap.rename(quoted(name), quoted(arg))
        elif op == "append":
            msg = (f"From: mailstack <test@client.example>\r\nSubject: {arg}\r\n\r\n"
                   f"{arg2 or 'filed by the folder test'}\r\n")
            typ, data = imap.append(quoted(name), None, None, msg.encode())
        elif op == "copy":
            imap.select("INBOX")
            _, found = imap.search(None, "SUBJECT", quoted(arg))
            nums = found[0].split()
            if not nums:
                return out(ok=False, error=f"no INBOX message with subject {arg}")
            typ, data = imap.copy(b",".join(nums).decode(), quoted(name))
        elif op == "move":
            imaplib.Commands.setdefault("MOVE", ("SELECTED",))  # RFC 6851, which imaplib does not know
            imap.select(quoted(name))
            _, found = imap.uid("SEARCH", "SUBJECT", quoted(arg2))
            uids = found[0].split()
            if not uids:
                return out(ok=False, error=f"no {name} message with subject {arg2}")
            typ, data = imap.uid("MOVE", b",".join(uids).decode(), quoted(arg))
        else:
            raise SystemExit(f"unknown folder operation {op}")
        text = " ".join(d.decode(errors="replace") if isinstance(d, bytes) else str(d) for d in data)
        out(ok=typ == "OK", answer=f"{typ} {text}")
    except imaplib.IMAP4.error as e:
        out(ok=False, answer=str(e))
    finally:
        imap.logout()
def sendhelo(host, port, helo, sender, rcpt, subject):
    """Like send, on port 25 style (no AUTH), with the given HELO name."""
    out(**submit(host, port, sender, rcpt, subject, helo=helo))


def header_block(host, user, password, subject, seconds="30"):
    """The header block of the INBOX message with exactly this subject (polled until it is there)."""
    deadline = time.time() + float(seconds)
    while True:
        imap = imap_session(host, user, password)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "SUBJECT", f'"{subject}"')
        for num in data[0].split():
            _, msg = imap.fetch(num, "(BODY.PEEK[HEADER])")
            text = msg[0][1].decode(errors="replace")
            if str(email.message_from_string(text).get("Subject", "")).strip() == subject:
                imap.logout()
                return out(ok=True, headers=text)
        imap.logout()
        if time.time() >= deadline:
            return out(ok=False, headers=None)
        time.sleep(0.5)


def message(host, port, sender, rcpt, subject, header_from, body, user=None, password=None):
    out(**submit(host, port, sender, rcpt, subject, user, password, header_from=header_from, body=body))


def dkim_check(host, user, password, subject, records):
    import dkim  # Debian's python3-dkim (dkimpy)
    table = json.loads(records)
    imap = imap_session(host, user, password)
    imap.select("INBOX", readonly=True)
    _, data = imap.search(None, "SUBJECT", f'"{subject}"')
    raw = None
    for num in data[0].split():
        _, msg = imap.fetch(num, "(BODY.PEEK[])")
        if str(email.message_from_bytes(msg[0][1]).get("Subject", "")).strip() == subject:
            raw = msg[0][1]
    imap.logout()
    if raw is None:
        return out(ok=False, error="no such message")
    asked = []

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        asked.append(name.rstrip("."))
        value = table.get(name.rstrip("."))
        return value.encode() if value is not None else None

    signatures = []
    for i, h in enumerate(email.message_from_bytes(raw).get_all("DKIM-Signature") or []):
        tags = dict(t.strip().split("=", 1) for t in re.sub(r"\s+", "", h).split(";") if "=" in t)
        verified = dkim.DKIM(raw).verify(idx=i, dnsfunc=dnsfunc)
        signatures.append(dict(d=tags.get("d"), s=tags.get("s"), a=tags.get("a"), verified=bool(verified)))
    out(ok=True, signatures=signatures, asked=asked, headers=raw.split(b"\r\n\r\n", 1)[0].decode(errors="replace"))


def port_open(host, port):
    try:
        socket.create_connection((host, int(port)), 3, source_address=(SOURCE, 0) if SOURCE else None).close()
        out(ok=True)
    except OSError as e:
        out(ok=False, error=f"{type(e).__name__}: {e}")


def sendplain(host, port, sender, rcpt, subject):
    """Like send, without STARTTLS."""
    out(**submit(host, port, sender, rcpt, subject, tls=False))


def cert(host, port, proto, cafile, servername=None):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # names are reported and checked by the test
    if proto == "imap":
        conn = imaplib.IMAP4(host, int(port), timeout=20)
        conn.host = servername or host  # starttls asks for conn.host by SNI (Python sends none for an address)
        conn.starttls(ssl_context=ctx)
        sock = conn.sock
    elif proto == "https":
        sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=20), server_hostname=servername or host)
    else:
        conn = smtplib.SMTP(host, int(port), local_hostname="client.example", timeout=20)
        conn._host = servername or host  # starttls asks for _host by SNI
        conn.starttls(context=ctx)
        sock = conn.sock
    c = sock.getpeercert()
    issuer = dict(x[0] for x in c["issuer"])
    out(ok=True, issuer=issuer.get("commonName"), names=[v for k, v in c.get("subjectAltName", ()) if k == "DNS"],
        serial=c["serialNumber"], version=sock.version())


def fetch(method, url, cafile, body=""):
    """One HTTP(S) request, certificate and name verified against CAFILE; redirects are not followed."""
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        conn = http.client.HTTPSConnection(u.hostname, u.port or 443, timeout=20,
                                           context=ssl.create_default_context(cafile=cafile))
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=20)
    path = u.path + ("?" + u.query if u.query else "")
    hdrs = {"Content-Type": "text/xml"} if body else {}
    conn.request(method, path, body=body.encode() if body else None, headers=hdrs)
    r = conn.getresponse()
    out(ok=True, code=r.status, type=r.getheader("Content-Type"), location=r.getheader("Location"),
        body=r.read().decode("utf-8", "replace"))


def weblogin(address, url, user, password, cafile):
    """Roundcube's login form as a browser posts it (its session cookie and request token), from SOURCE when set,
    to ADDRESS with the URL's name for SNI, the certificate check and Host. ok: logged in (a redirect to the mail)."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=cafile)

    def request(method, body=None, cookie=""):
        raw = socket.create_connection((address, 443), 20, source_address=(SOURCE, 0) if SOURCE else None)
        conn = http.client.HTTPSConnection(u.hostname, 443, timeout=20)
        conn.sock = ctx.wrap_socket(raw, server_hostname=u.hostname)
        hdrs = {"Host": u.hostname, "Cookie": cookie}
        if body is not None:
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, u.path, body=body, headers=hdrs)
        r = conn.getresponse()
        return r, r.read().decode("utf-8", "replace")

    try:
        r, page = request("GET")
        cookie = "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie") or [])
        token = re.search(r'name="_token" value="([^"]+)"', page)
        if token is None:
            return out(ok=False, code=r.status, error="no _token in the login page")
        form = urllib.parse.urlencode({"_token": token.group(1), "_task": "login", "_action": "login", "_timezone": "UTC",
                                       "_url": "", "_user": user, "_pass": password})
        r, _ = request("POST", form, cookie)
        out(ok=r.status in (301, 302) and "_task=mail" in (r.getheader("Location") or ""), code=r.status)
    except OSError as e:
        out(ok=False, error=f"{type(e).__name__}: {e}")


def plainlogin(host, proto, user, password):
    try:
        if proto == "imap":
            imap = imaplib.IMAP4(host, 143, timeout=20)
            imap.login(user, password)
            return out(ok=True)
        with smtplib.SMTP(host, 587, local_hostname="client.example", timeout=20) as smtp:
            smtp.ehlo()
            smtp.login(user, password)
        out(ok=True)
    except (imaplib.IMAP4.error, smtplib.SMTPException) as e:
        out(ok=False, error=str(e))


def imap_tagged(sock_file, tag):
    """Lines up to and including the tagged response."""
    lines = []
    while True:
        line = sock_file.readline().decode(errors="replace").rstrip("\r\n")
        if not line:
            raise OSError("connection closed")
        lines.append(line)
        if line.startswith(tag + " "):
            return lines


def plaintext(host, proto, user, password):
    """Credentials before STARTTLS (the server must refuse them), then the same credentials after STARTTLS
    (the control: they are right, and the server takes them there)."""
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    if proto == "imap":
        sock = socket.create_connection((host, 143), timeout=20)
        f = sock.makefile("rb")
        greeting = f.readline().decode(errors="replace").strip()
        sock.sendall(b"a1 CAPABILITY\r\n")
        caps = imap_tagged(f, "a1")
        sock.sendall(f'a2 LOGIN "{user}" "{password}"\r\n'.encode())
        login = imap_tagged(f, "a2")[-1]
        sock.sendall(f"a3 AUTHENTICATE PLAIN {plain}\r\n".encode())
        authenticate = imap_tagged(f, "a3")[-1]
        sock.sendall(b"a4 STARTTLS\r\n")
        starttls = imap_tagged(f, "a4")[-1]
        tls = loose().wrap_socket(sock, server_hostname=host)
        g = tls.makefile("rb")
        tls.sendall(f'a5 LOGIN "{user}" "{password}"\r\n'.encode())
        after = imap_tagged(g, "a5")[-1]
        tls.close()
        return out(ok=True, greeting=greeting, capabilities=" ".join(caps), login=login,
                   authenticate=authenticate, starttls=starttls, after=after)
    with smtplib.SMTP(host, 587, local_hostname="client.example", timeout=20) as smtp:
        smtp.ehlo()
        advertised = smtp.has_extn("auth")
        plain_code, plain_text = smtp.docmd("AUTH", f"PLAIN {plain}")
        login_code, login_text = smtp.docmd("AUTH", "LOGIN " + base64.b64encode(user.encode()).decode())
        if login_code == 334:  # never expected; finish the exchange so the result is the server's verdict
            login_code, login_text = smtp.docmd(base64.b64encode(password.encode()).decode())
        smtp.starttls(context=loose())
        smtp.ehlo()
        advertised_after = smtp.has_extn("auth")
        after_code, after_text = smtp.docmd("AUTH", f"PLAIN {plain}")
        out(ok=True, advertised=advertised, plain=f"{plain_code} {plain_text.decode()}",
            login=f"{login_code} {login_text.decode()}", advertisedAfter=advertised_after,
            after=f"{after_code} {after_text.decode()}")


def matching(host, user, password, text):
    imap = imap_session(host, user, password)
    imap.select("INBOX", readonly=True)
    _, data = imap.search(None, "SUBJECT", f'"{text}"')
    found = []
    nums = data[0].split()
    if nums:
        _, msgs = imap.fetch(b",".join(nums), "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        for m in msgs:
            if isinstance(m, tuple):
                found.append(str(email.message_from_bytes(m[1]).get("Subject", "")).strip())
    imap.logout()
    return found


def search(host, user, password, text, n="0", seconds="0"):
    deadline = time.time() + float(seconds)
    while True:
        found = matching(host, user, password, text)
        if len(found) >= int(n) or time.time() >= deadline:
            return out(ok=len(found) >= int(n), subjects=found)
        time.sleep(0.5)


def flood(host, rcpt, prefix, stopfile, limit, seconds, user, password, pause="0"):
    deadline = time.time() + float(seconds)
    i = 0
    while i < int(limit) and time.time() < deadline and not os.path.exists(stopfile):
        if i:
            time.sleep(float(pause))
        port = "25" if i % 2 == 0 else "587"
        sender = "flood@client.example" if port == "25" else user
        subject = f"{prefix} {i:04d}"
        r = submit(host, port, sender, rcpt, subject, *((user, password) if port == "587" else ()))
        print(json.dumps(dict(i=i, port=port, subject=subject, t=time.time(), **r)), flush=True)
        i += 1


OPENSSL_SECLEVEL0 = "DEFAULT:@SECLEVEL=0"


def s_client(host, port, proto, version):
    """The one client command of the TLS tests: only VERSION offered, every cipher allowed (SECLEVEL 0), so a
    refusal can only come from the server."""
    cmd = ["openssl", "s_client", "-connect", f"{host}:{port}", "-starttls", proto, f"-{version}",
           "-cipher", OPENSSL_SECLEVEL0]
    r = subprocess.run(cmd, input=b"", capture_output=True, timeout=30)
    text = (r.stdout + r.stderr).decode(errors="replace")
    cipher = re.search(r"Cipher is (\S+)", text)
    errors = [l for l in text.splitlines() if ":error:" in l or "alert" in l or "errno" in l]
    ok = r.returncode == 0 and cipher is not None and cipher.group(1) != "(NONE)"
    # The negotiated version: the session's "Protocol" line (s_client prints it with the attempted version even
    # when nothing was negotiated, hence only on success), else the "New, TLSv1.3, Cipher is" line.
    protocol = re.search(r"Protocol\s*:\s*(TLSv[0-9.]+)", text) or re.search(r"New, (TLSv[0-9.]+), Cipher is", text)
    return dict(ok=ok, command=" ".join(cmd), exit=r.returncode, cipher=cipher.group(1) if cipher else None,
                version=protocol.group(1) if ok and protocol else None, error=" | ".join(errors[:3]) or None)


def tls(host, port, proto, version):
    out(**s_client(host, port, proto, version))


def cipher(host, port, proto, suite, servername=None):
    """TLS 1.2 offering only the given OpenSSL cipher suite (at SECLEVEL 0: only the server can refuse it).
    PROTO "none": TLS from the start (443), with SERVERNAME as SNI."""
    start = [] if proto == "none" else ["-starttls", proto]
    sni = ["-servername", servername] if servername else []
    cmd = ["openssl", "s_client", "-connect", f"{host}:{port}", *start, *sni, "-tls1_2",
           "-cipher", f"{suite}:@SECLEVEL=0"]
    r = subprocess.run(cmd, input=b"", capture_output=True, timeout=30)
    text = (r.stdout + r.stderr).decode(errors="replace")
    got = re.search(r"Cipher is (\S+)", text)
    ok = r.returncode == 0 and got is not None and got.group(1) != "(NONE)"
    out(ok=ok, command=" ".join(cmd), cipher=got.group(1) if got else None)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def starttls_front(proto, listener, backend_port):
    """Plays the plain-text part of IMAP or SMTP up to STARTTLS, then passes the bytes through to s_server."""
    conn, _ = listener.accept()
    conn.settimeout(20)
    f = conn.makefile("rb")
    conn.sendall(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] control\r\n" if proto == "imap" else b"220 control ESMTP\r\n")
    while True:
        line = f.readline().decode(errors="replace").strip()
        if not line:
            return conn.close()
        word = line.split()
        if proto == "imap":
            tag, verb = word[0], word[1].upper()
            if verb == "STARTTLS":
                conn.sendall(f"{tag} OK Begin TLS negotiation now\r\n".encode())
                break
            conn.sendall(f"* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK done\r\n".encode())
        else:
            verb = word[0].upper()
            if verb == "STARTTLS":
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                break
            conn.sendall(b"250-control\r\n250 STARTTLS\r\n" if verb == "EHLO" else b"250 ok\r\n")
    backend = socket.create_connection(("127.0.0.1", backend_port), timeout=20)
    pair = {conn: backend, backend: conn}
    while True:
        ready, _, _ = select.select(list(pair), [], [], 20)
        if not ready:
            break
        for s in ready:
            data = s.recv(65536)
            if not data:
                conn.close()
                backend.close()
                return
            pair[s].sendall(data)


def tlscontrol(proto, version):
    with tempfile.TemporaryDirectory() as d:
        key, crt = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-days", "1", "-subj", "/CN=mailstack tls control", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        backend_port = free_port()
        server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{backend_port}", "-cert", crt,
                                   "-key", key, f"-{version}", "-cipher", OPENSSL_SECLEVEL0, "-naccept", "1"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            for line in server.stdout:  # s_server says ACCEPT once it listens
                if line.startswith(b"ACCEPT"):
                    break
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(1)
            front = threading.Thread(target=starttls_front, args=(proto, listener, backend_port), daemon=True)
            front.start()
            result = s_client("127.0.0.1", str(listener.getsockname()[1]), proto, version)
            front.join(5)
            listener.close()
        finally:
            server.kill()
            server.wait()
    out(**result)


def hold(host, user, password, stopfile, seconds="300"):
    imap = imap_session(host, user, password)
    imap.select("INBOX", readonly=True)
    print(json.dumps({"ready": True}), flush=True)
    deadline = time.time() + float(seconds)
    while not os.path.exists(stopfile) and time.time() < deadline:
        time.sleep(0.2)
    try:
        imap.noop()
        found = subjects(imap)
        imap.logout()
    except (imaplib.IMAP4.error, OSError) as e:
        return out(ok=False, error=f"{type(e).__name__}: {e}")
    out(ok=True, subjects=found)


if __name__ == "__main__":
    verbs = {"login": login, "wait": wait, "send": send, "sendplain": sendplain, "sendutf8": sendutf8,
             "folders": folders, "folder": folder, "cert": cert,
             "plainlogin": plainlogin, "plaintext": plaintext, "search": search, "flood": flood, "tls": tls,
             "tlscontrol": tlscontrol, "sendhelo": sendhelo, "headers": header_block, "cipher": cipher, "hold": hold, "burst": burst, "fetch": fetch, "weblogin": weblogin,
             "message": message, "dkim": dkim_check, "port": port_open,
             "sendwith": sendwith, "sendraw": sendraw, "sievescript": sievescript, "sievelogin": sievelogin,
             "flags": flags, "setflags": setflags, "expunge": expunge, "mailboxes": every_mailbox}
    verbs[sys.argv[1]](*sys.argv[2:])
