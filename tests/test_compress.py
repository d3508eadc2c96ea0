"""IMAP COMPRESS=DEFLATE (RFC 4978): byte-exact mail through the
compressed stream (the test Dovecot loads imap_zlib), COMPRESS only after
login and only when there is mail to fetch, compress = no, and a server
whose compressed data is garbage (exit 65, nothing lost)."""

import os
import re
import zlib

from test_hostile import IMAP_BODIES, check, imap_bodies, imap_server
from test_hostile import maildir_messages as hostile_messages
from test_imap import summary
from test_pop3 import CORPUS, big_message, maildir_messages

A = "acct"
COMPRESS = re.compile(r"^%s: > A\d+ COMPRESS DEFLATE$" % A, re.M)
LOGGED_IN = re.compile(r"^%s: < A\d+ OK .*Logged in" % A, re.M)


def setup(env, **keys):
    d = env.dovecot
    u = env.new_user()
    corpus = CORPUS + [big_message(3)]
    for data in corpus:
        d.deliver(u.name, data, cur=True)
    cfg = env.config(env.account(A, "imap", "implicit", u, **keys))
    return corpus, cfg


def test_compressed_fetch_is_byte_exact_and_starts_after_login(env):
    corpus, cfg = setup(env)
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (len(corpus), 0, len(corpus)), r.out
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == sorted(
        corpus)
    sent = COMPRESS.findall(r.err)
    assert len(sent) == 1, "COMPRESS sent %d times:\n%s" % (
        len(sent), r.err[-3000:])
    # A first fetch sends COMPRESS behind the login without waiting
    # (issue 16): after every line that carries a credential, and
    # compression begins after the login's OK; no credential is ever
    # compressed.
    login = LOGGED_IN.search(r.err)
    assert login, r.err[-3000:]
    secret = list(re.finditer(r"^%s: > .*<redacted>$" % A, r.err, re.M))
    assert secret and COMPRESS.search(r.err).start() > secret[-1].start(), \
        "COMPRESS before the last credential"
    # The server agreed: the mail above came through the deflate stream.
    begin = re.search(r"^%s: < A\d+ OK Begin compression" % A, r.err, re.M)
    assert begin and begin.start() > login.start(), r.err[-3000:]
    # A poll with nothing new does not compress: no round trip for it.
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (0, 0, len(corpus))
    assert not COMPRESS.search(r.err)


def test_compress_no_sends_no_compress(env):
    corpus, cfg = setup(env, compress="no")
    r = env.expect(env.run(["-c", cfg, "-vv"]), 0)
    assert summary(r) == (len(corpus), 0, len(corpus)), r.out
    assert sorted(maildir_messages(env.path(A + "-Maildir"))) == sorted(
        corpus)
    assert "COMPRESS" in r.err  # the server offers it
    assert not COMPRESS.search(r.err)


CAPS = b"* CAPABILITY IMAP4rev1 UIDPLUS COMPRESS=DEFLATE\r\n{tag} OK done\r\n"


def test_garbage_after_compress_ok_is_65_and_loses_nothing(env):
    garbage = b"{tag} OK begin\r\n" + b"\xff\xfe this is not deflate" * 20
    with imap_server(CAPABILITY=CAPS, **{
            r"^(\S+) COMPRESS DEFLATE": lambda m: garbage.replace(
                b"{tag}", m.group(1))}) as srv:
        check(env, srv, "imap", 65, r"compressed data")
        # Nothing was marked or deleted on the server.
        assert not [x for x in srv.lines if re.search(
            r"STORE|EXPUNGE", x)], srv.lines
    assert hostile_messages(env) == []
    # (The session may end before the Maildir is made: the COMPRESS of
    # a first fetch goes behind the login.)
    tmp = env.path(A + "-Maildir", "tmp")
    assert not os.path.exists(tmp) or os.listdir(tmp) == []
    # Nothing recorded as fetched: the same mail comes on the next run.
    with imap_server(CAPABILITY=CAPS) as srv:
        check(env, srv, "imap", 0, "", keys={"compress": "no"})
    assert len(hostile_messages(env)) == 2


def test_garbage_after_a_good_message_loses_nothing_and_duplicates_none(env):
    # The first message arrives whole through the deflate stream, then
    # the stream breaks: 65; whatever was kept is kept once, and the
    # next run brings the rest.
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    good = z.compress(imap_bodies((1,))) + z.flush(zlib.Z_SYNC_FLUSH)
    reply = b"{tag} OK begin\r\n" + good + b"\xff" * 64
    with imap_server(CAPABILITY=CAPS, **{
            r"^(\S+) COMPRESS DEFLATE": lambda m: reply.replace(
                b"{tag}", m.group(1))}) as srv:
        check(env, srv, "imap", 65, r"compressed data")
    want = [IMAP_BODIES[u].replace(b"\r\n", b"\n") for u in (1, 2)]
    first = hostile_messages(env)
    assert first in ([], want[:1]), first
    with imap_server(CAPABILITY=CAPS) as srv:
        check(env, srv, "imap", 0, "", keys={"compress": "no"})
    assert sorted(hostile_messages(env)) == sorted(want)
    assert os.listdir(env.path(A + "-Maildir", "tmp")) == []
