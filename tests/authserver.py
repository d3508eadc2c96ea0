"""Fake POP3 and IMAP servers that speak SASL, for the authentication
tests (tests/test_auth.py), built on fakeserver.FakeServer.

A server plays one protocol session per connection: capabilities, AUTH
(POP3, RFC 5034) or AUTHENTICATE (IMAP, RFC 3501 section 6.2.2, with the
initial response of RFC 4959 when SASL-IR is offered), and just enough
of the rest (STAT, UIDL, LIST, SELECT/EXAMINE, LOGOUT, QUIT) for a
`mailfetch --check` to succeed once authenticated.

The SASL side is a mechanism object made by a factory per AUTH command:
  start(ir)   ir: the initial response, base64-decoded bytes, or None
              when the client sent none (the server then sends an empty
              challenge and the next line is handed to start()).
  step(data)  data: a response line, base64-decoded bytes.
Both return ("cont", bytes) for a challenge (sent base64-encoded),
("ok", None) for success or ("fail", text) for a failure.

Everything the client sent is recorded by FakeServer (.received, .lines);
.auths lists the mechanism of every AUTH/AUTHENTICATE command, in order,
and .decoded the base64-decoded client responses.

ScramServer is a real SCRAM-SHA-1/SCRAM-SHA-256 server (RFC 5802): it
checks the client proof against the password, and sends the correct
server signature, or a forged one (forge="signature"), or no server-final
message at all (forge="skip": OK straight after the client proof).
OAuthServer checks that the initial response is exactly the expected
bytes and can answer with an RFC 7628 error challenge instead.
"""

import base64
import hashlib
import hmac
import re

from fakeserver import FakeServer

ANY_LINE = rb"^.*$"


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    if text in ("", "="):
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except Exception:
        return None


class ScramServer:
    """The server side of SCRAM-SHA-1 or SCRAM-SHA-256 for one user."""

    def __init__(self, hashname, user, password, salt=b"mailfetch-salt-16",
                 iterations=4096, forge=None):
        self.hashname = hashname
        self.user = user
        self.password = password
        self.salt = salt
        self.iterations = iterations
        self.forge = forge
        self.snonce = "fakeServerNonce+/0123456789"
        self.proof_ok = None  # set once the client proof was checked
        self.error = None
        self.state = "first"

    def _h(self, data):
        return hashlib.new(self.hashname, data).digest()

    def _hmac(self, key, data):
        return hmac.new(key, data, self.hashname).digest()

    def start(self, ir):
        if ir is None:
            return ("cont", b"")
        return self._first(ir)

    def _fail(self, why):
        self.error = why
        return ("fail", why)

    def _first(self, msg):
        m = re.match(rb"^n,,(n=([^,]*),r=([^,]+))$", msg)
        if m is None:
            return self._fail("bad client-first %r" % msg)
        self.client_first_bare = m.group(1)
        if m.group(2).decode() != self.user:
            return self._fail("unknown user %r" % m.group(2))
        self.nonce = m.group(3).decode() + self.snonce
        self.server_first = ("r=%s,s=%s,i=%d" % (
            self.nonce, b64(self.salt), self.iterations)).encode()
        self.state = "final"
        return ("cont", self.server_first)

    def step(self, data):
        if self.state == "first":
            return self._first(data)
        if self.state == "final":
            return self._final(data)
        if self.state == "done":
            # The client's empty response to the server-final message.
            if data != b"":
                return self._fail("non-empty response after v=")
            return ("ok", None)
        return self._fail("unexpected step")

    def _final(self, msg):
        m = re.match(rb"^(c=biws,r=([^,]+)),p=([^,]+)$", msg)
        if m is None:
            return self._fail("bad client-final %r" % msg)
        if m.group(2).decode() != self.nonce:
            return self._fail("wrong nonce")
        auth_msg = b",".join([self.client_first_bare, self.server_first,
                              m.group(1)])
        salted = hashlib.pbkdf2_hmac(self.hashname, self.password.encode(),
                                     self.salt, self.iterations)
        client_key = self._hmac(salted, b"Client Key")
        sig = self._hmac(self._h(client_key), auth_msg)
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        got = unb64(m.group(3))
        self.proof_ok = got == proof
        if not self.proof_ok:
            return ("fail", "[AUTH] Authentication failed (bad proof)")
        server_sig = self._hmac(self._hmac(salted, b"Server Key"), auth_msg)
        if self.forge == "skip":
            return ("ok", None)
        if self.forge == "signature":
            server_sig = bytes(b ^ 0x5A for b in server_sig)
        self.state = "done"
        return ("cont", b"v=" + base64.b64encode(server_sig))


class PlainServer:
    """PLAIN (RFC 4616): accepts exactly "\\0user\\0password"."""

    def __init__(self, user, password):
        self.expect = b"\0" + user.encode() + b"\0" + password.encode()

    def start(self, ir):
        if ir is None:
            return ("cont", b"")
        return self.step(ir)

    def step(self, data):
        if data == self.expect:
            return ("ok", None)
        return ("fail", "[AUTH] Authentication failed.")


class OAuthServer:
    """XOAUTH2 or OAUTHBEARER: the initial response must be exactly
    expect. With error=True the server answers a correct one with the
    error challenge (RFC 7628 section 3.2.2) and then fails, recording
    the client's answer to it in .error_answer."""

    ERROR_JSON = (b'{"status":"invalid_token","schemes":"bearer",'
                  b'"scope":"https://mail.example/"}')

    def __init__(self, expect, error=False):
        self.expect = expect
        self.error = error
        self.got = None
        self.error_answer = None
        self.state = "ir"

    def start(self, ir):
        if ir is None:
            return ("cont", b"")
        return self.step(ir)

    def step(self, data):
        if self.state == "ir":
            self.got = data
            if data != self.expect:
                return ("fail", "[AUTH] initial response not as expected")
            if self.error:
                self.state = "error"
                return ("cont", self.ERROR_JSON)
            return ("ok", None)
        if self.state == "error":
            self.error_answer = data
            self.state = "over"
            return ("fail", "[AUTH] Invalid token")
        return ("fail", "unexpected step")


class _Session:
    """Shared state of a fake session: the SASL exchange in progress."""

    def __init__(self, mechs, factory):
        self.mechs = [m.upper() for m in mechs]
        self.factory = factory
        self.auths = []
        self.decoded = []
        self.mech = None
        self.need_ir = False
        self.authenticated = False

    def _begin(self, mech, ir_text):
        self.auths.append(mech)
        if mech not in self.mechs:
            return ("fail", "Unsupported authentication mechanism")
        self.mech = self.factory(mech)
        if ir_text is None:
            self.need_ir = True
            return self.mech.start(None)
        ir = unb64(ir_text)
        if ir is None:
            return ("fail", "bad base64")
        self.decoded.append(ir)
        self.need_ir = False
        return self.mech.start(ir)

    def _cont(self, line):
        if line == b"*":
            return ("fail", "cancelled")
        data = unb64(line)
        if data is None:
            return ("fail", "bad base64")
        self.decoded.append(data)
        if self.need_ir:
            self.need_ir = False
            return self.mech.start(data)
        return self.mech.step(data)


class Pop3Sasl(_Session):
    """A fake POP3 server offering SASL mechs (and USER); factory(mech)
    makes the mechanism object for an AUTH command."""

    def __init__(self, mechs, factory, stls=False):
        _Session.__init__(self, mechs, factory)
        self.stls = stls
        self.server = FakeServer(
            "respond", greeting=b"+OK fake POP3 ready\r\n",
            rules=[(ANY_LINE, self._line)])
        self.server.rules.insert(0, (re.compile(rb"^QUIT$"),
                                     b"+OK bye\r\n", {"close": True}))

    def _reply(self, res):
        kind, val = res
        if kind == "cont":
            return b"+ " + base64.b64encode(val) + b"\r\n"
        self.mech = None
        if kind == "ok":
            self.authenticated = True
            return b"+OK logged in\r\n"
        return b"-ERR " + val.encode() + b"\r\n"

    def _line(self, m):
        line = m.group(0)
        if self.mech is not None:
            return self._reply(self._cont(line))
        words = line.split(b" ")
        cmd = words[0].upper()
        if cmd == b"CAPA":
            return (b"+OK\r\nUSER\r\nUIDL\r\n" +
                    (b"STLS\r\n" if self.stls else b"") +
                    b"SASL " + " ".join(self.mechs).encode() + b"\r\n.\r\n")
        if cmd == b"AUTH" and len(words) in (2, 3):
            ir = words[2].decode("latin-1") if len(words) == 3 else None
            return self._reply(self._begin(words[1].decode().upper(), ir))
        if not self.authenticated:
            return b"-ERR not now\r\n"
        if cmd == b"STAT":
            return b"+OK 0 0\r\n"
        if cmd in (b"UIDL", b"LIST"):
            return b"+OK\r\n.\r\n"
        if cmd == b"NOOP":
            return b"+OK\r\n"
        return b"-ERR unknown command\r\n"


class ImapSasl(_Session):
    """A fake IMAP server offering AUTH=mechs (and SASL-IR when saslir);
    factory(mech) makes the mechanism object for an AUTHENTICATE."""

    def __init__(self, mechs, factory, saslir=True):
        _Session.__init__(self, mechs, factory)
        self.saslir = saslir
        self.tag = None
        self.server = FakeServer(
            "respond", greeting=b"* OK fake IMAP ready\r\n",
            rules=[(ANY_LINE, self._line)])
        self.server.rules.insert(0, (
            re.compile(rb"^(\S+) LOGOUT$"),
            lambda m: b"* BYE bye\r\n" + m.group(1) + b" OK done\r\n",
            {"close": True}))

    def caps(self):
        c = b"IMAP4rev1"
        if self.authenticated:
            return c + b" UIDPLUS"
        if self.saslir:
            c += b" SASL-IR"
        return c + b"".join(b" AUTH=" + x.encode() for x in self.mechs)

    def _reply(self, res):
        kind, val = res
        if kind == "cont":
            return b"+ " + base64.b64encode(val) + b"\r\n"
        self.mech = None
        if kind == "ok":
            self.authenticated = True
            return self.tag + b" OK authenticated\r\n"
        return self.tag + b" NO " + val.encode() + b"\r\n"

    def _line(self, m):
        line = m.group(0)
        if self.mech is not None:
            return self._reply(self._cont(line))
        words = line.split(b" ")
        if len(words) < 2:
            return b"* BAD no tag\r\n"
        tag, cmd = words[0], words[1].upper()
        if cmd == b"CAPABILITY":
            return (b"* CAPABILITY " + self.caps() + b"\r\n" + tag +
                    b" OK done\r\n")
        if cmd == b"NOOP":
            return tag + b" OK done\r\n"
        if cmd == b"AUTHENTICATE" and len(words) in (3, 4):
            self.tag = tag
            ir = words[3].decode("latin-1") if len(words) == 4 else None
            if ir is not None and not self.saslir:
                return tag + b" BAD SASL-IR not offered\r\n"
            return self._reply(self._begin(words[2].decode().upper(), ir))
        if not self.authenticated:
            return tag + b" NO not now\r\n"
        if cmd == b"LIST":
            return (b'* LIST (\\HasNoChildren) "/" INBOX\r\n' + tag +
                    b" OK done\r\n")
        if cmd in (b"SELECT", b"EXAMINE"):
            return (b"* 0 EXISTS\r\n* 0 RECENT\r\n"
                    b"* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 1] ok\r\n" +
                    tag + b" OK [READ-ONLY] done\r\n")
        return tag + b" BAD unknown command\r\n"
