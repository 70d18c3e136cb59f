#!/usr/bin/python3
"""Real mail clients for the end-to-end tests, run inside the client namespace. One JSON object on stdout.

  login HOST USER PASS                      IMAP 143, STARTTLS, LOGIN; INBOX subjects
  wait HOST USER PASS SUBJECT [SECONDS]     poll INBOX until a message with SUBJECT arrives
  send HOST PORT FROM TO SUBJECT [USER PASS]  SMTP; STARTTLS (and AUTH when USER is given)
  cert HOST PORT imap|smtp CAFILE           STARTTLS handshake verified against CAFILE: issuer, names, serial
  plainlogin HOST imap|smtp USER PASS       try AUTH/LOGIN before STARTTLS
"""
import email
import imaplib
import json
import smtplib
import ssl
import sys
import time


def out(**kw):
    print(json.dumps(kw))


def loose():
    # The tests check the certificate separately (`cert`); here only the protocol matters.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def subjects(imap):
    imap.select("INBOX", readonly=True)
    _, data = imap.search(None, "ALL")
    found = []
    for num in data[0].split():
        _, msg = imap.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        found.append(str(email.message_from_bytes(msg[0][1]).get("Subject", "")))
    return found


def imap_session(host, user, password):
    imap = imaplib.IMAP4(host, 143, timeout=20)
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


def wait(host, user, password, subject, seconds="30"):
    deadline = time.time() + float(seconds)
    found = []
    while time.time() < deadline:
        imap = imap_session(host, user, password)
        found = subjects(imap)
        imap.logout()
        if subject in found:
            return out(ok=True, subjects=found)
        time.sleep(0.5)
    out(ok=False, subjects=found)


def send(host, port, sender, rcpt, subject, user=None, password=None):
    msg = f"From: {sender}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n\r\nmailstack end-to-end test\r\n"
    try:
        with smtplib.SMTP(host, int(port), local_hostname="client.example", timeout=20) as smtp:
            smtp.starttls(context=loose())
            if user:
                smtp.login(user, password)
            refused = smtp.sendmail(sender, [rcpt], msg)
        out(ok=not refused, refused=str(refused) if refused else None)
    except smtplib.SMTPResponseException as e:
        out(ok=False, code=e.smtp_code, error=e.smtp_error.decode(errors="replace"))
    except smtplib.SMTPRecipientsRefused as e:
        code, text = list(e.recipients.values())[0]
        out(ok=False, code=code, error=text.decode(errors="replace"))


def cert(host, port, proto, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # names are reported and checked by the test
    if proto == "imap":
        conn = imaplib.IMAP4(host, int(port), timeout=20)
        conn.starttls(ssl_context=ctx)
        sock = conn.sock
    else:
        conn = smtplib.SMTP(host, int(port), local_hostname="client.example", timeout=20)
        conn.starttls(context=ctx)
        sock = conn.sock
    c = sock.getpeercert()
    issuer = dict(x[0] for x in c["issuer"])
    out(ok=True, issuer=issuer.get("commonName"), names=[v for k, v in c.get("subjectAltName", ()) if k == "DNS"],
        serial=c["serialNumber"], version=sock.version())


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


if __name__ == "__main__":
    verbs = {"login": login, "wait": wait, "send": send, "cert": cert, "plainlogin": plainlogin}
    verbs[sys.argv[1]](*sys.argv[2:])
