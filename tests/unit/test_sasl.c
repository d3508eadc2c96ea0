/*
 * Unit tests for proto/sasl.c, against the published test vectors of
 * RFC 4648, RFC 1939, RFC 2195, RFC 4616, RFC 5802, RFC 7677 and
 * RFC 7628, and against servers that misbehave.
 */
#include <stdlib.h>
#include <string.h>

#include "../../proto/sasl.h"
#include "../../tls/util.h"
#include "t.h"

/* Decode b64 (which must be valid) into a NUL-terminated string. */
static char *
dec(const char *b64, size_t *n)
{
	unsigned char *p;
	size_t len;

	if (b64 == NULL)
		return NULL;
	p = sasl_b64_decode(b64, strlen(b64), &len);
	if (n != NULL)
		*n = len;
	return (char *)p;
}

/* Send the server message raw (base64-encoded here) to s. */
static int
step_raw(struct sasl *s, const char *raw, char **out)
{
	char *in;
	int rc;

	in = sasl_b64_encode(raw, strlen(raw));
	rc = sasl_step(s, in, strlen(in), out);
	free(in);
	return rc;
}

/* Step with a server message, expecting success and a decoded response
 * equal to want (want NULL: do not compare). */
static void
expect_step(struct sasl *s, const char *raw, const char *want)
{
	char *out = NULL, *d;

	CHECK(step_raw(s, raw, &out) == 0);
	if (want != NULL) {
		d = dec(out, NULL);
		CHECK_STR(d, want);
		free(d);
	}
	freezero_str(out);
}

/* RFC 4648 section 10 test vectors. */
static const struct {
	const char *raw;
	const char *b64;
} b64_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void
t_b64_encode(const void *arg)
{
	size_t i;
	char *s;

	(void)arg;
	for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		s = sasl_b64_encode(
		    b64_vectors[i].raw, strlen(b64_vectors[i].raw));
		CHECK_STR(s, b64_vectors[i].b64);
		free(s);
	}
}

static void
t_b64_decode(const void *arg)
{
	unsigned char *p;
	size_t i, n;

	(void)arg;
	for (i = 0; i < sizeof(b64_vectors) / sizeof(b64_vectors[0]); i++) {
		n = 99;
		p = sasl_b64_decode(
		    b64_vectors[i].b64, strlen(b64_vectors[i].b64), &n);
		CHECK(p != NULL);
		if (p == NULL)
			continue;
		CHECK(n == strlen(b64_vectors[i].raw)
		    && memcmp(p, b64_vectors[i].raw, n) == 0);
		CHECK(p[n] == '\0');
		free(p);
	}
}

/* Inputs that are not RFC 4648 base64 with padding. */
static const struct {
	const char *in;
	size_t len;
} b64_bad[] = {
	{ "Zg", 2 }, /* not a multiple of 4 */
	{ "Zg=", 3 }, /* not a multiple of 4 */
	{ "Zm9vY", 5 }, /* not a multiple of 4 */
	{ "Z===", 4 }, /* three pads */
	{ "====", 4 }, /* only padding */
	{ "Z=g=", 4 }, /* pad in the middle */
	{ "Zg==Zg==", 8 }, /* pad, then more data */
	{ "Zm9v!A==", 8 }, /* not in the alphabet */
	{ "Zm 9", 4 }, /* space */
	{ "Zm9\n", 4 }, /* newline */
	{ "Zm-_", 4 }, /* base64url alphabet */
	{ "Zm\0v", 4 }, /* NUL */
	{ "Zm9vYg=a", 8 }, /* data after a pad */
	{ "Zm9v\xc3\xa9==", 8 } /* non-ASCII */
};

static void
t_b64_invalid(const void *arg)
{
	unsigned char *p;
	size_t i, n;

	(void)arg;
	for (i = 0; i < sizeof(b64_bad) / sizeof(b64_bad[0]); i++) {
		p = sasl_b64_decode(b64_bad[i].in, b64_bad[i].len, &n);
		if (p != NULL)
			fprintf(stderr, "accepted bad base64 #%zu\n", i);
		CHECK(p == NULL);
		free(p);
	}
}

/* Binary bytes, including NULs, across libcrypto's chunk size. */
static void
t_b64_roundtrip(const void *arg)
{
	unsigned char *raw, *back;
	size_t i, n, lens[] = { 1, 2, 3, 255, 49151, 49152, 49153, 100001 };
	size_t k;
	char *s;

	(void)arg;
	for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		raw = xmalloc(lens[k]);
		for (i = 0; i < lens[k]; i++)
			raw[i] = (unsigned char)(i * 7 + k);
		s = sasl_b64_encode(raw, lens[k]);
		CHECK(strlen(s) == (lens[k] + 2) / 3 * 4);
		back = sasl_b64_decode(s, strlen(s), &n);
		CHECK(
		    back != NULL && n == lens[k] && memcmp(back, raw, n) == 0);
		free(back);
		free(s);
		free(raw);
	}
}

/* RFC 1939 section 7 example. */
static void
t_apop(const void *arg)
{
	const char *stamp = "<1896.697170952@dbc.mtview.ca.us>";
	char hex[33];

	(void)arg;
	sasl_apop_digest(stamp, strlen(stamp), "tanstaaf", hex);
	CHECK_STR(hex, "c4c9334bac560ecc979e58001b3e22fb");
	/* Only stamplen bytes of the stamp count. */
	sasl_apop_digest("<1896.697170952@dbc.mtview.ca.us>XYZ", strlen(stamp),
	    "tanstaaf", hex);
	CHECK_STR(hex, "c4c9334bac560ecc979e58001b3e22fb");
}

static void
t_mech_names(const void *arg)
{
	(void)arg;
	CHECK(sasl_mech_name(SRC_AUTH_AUTO) == NULL);
	CHECK(sasl_mech_name(SRC_AUTH_USER) == NULL);
	CHECK(sasl_mech_name(SRC_AUTH_APOP) == NULL);
	CHECK_STR(sasl_mech_name(SRC_AUTH_LOGIN), "LOGIN");
	CHECK_STR(sasl_mech_name(SRC_AUTH_PLAIN), "PLAIN");
	CHECK_STR(sasl_mech_name(SRC_AUTH_CRAM_MD5), "CRAM-MD5");
	CHECK_STR(sasl_mech_name(SRC_AUTH_SCRAM_SHA_1), "SCRAM-SHA-1");
	CHECK_STR(sasl_mech_name(SRC_AUTH_SCRAM_SHA_256), "SCRAM-SHA-256");
	CHECK_STR(sasl_mech_name(SRC_AUTH_XOAUTH2), "XOAUTH2");
	CHECK_STR(sasl_mech_name(SRC_AUTH_OAUTHBEARER), "OAUTHBEARER");
}

static void
t_client_first(const void *arg)
{
	static const struct {
		enum src_auth mech;
		int first;
	} v[] = {
		{ SRC_AUTH_PLAIN, 1 },
		{ SRC_AUTH_SCRAM_SHA_1, 1 },
		{ SRC_AUTH_SCRAM_SHA_256, 1 },
		{ SRC_AUTH_XOAUTH2, 1 },
		{ SRC_AUTH_OAUTHBEARER, 1 },
		{ SRC_AUTH_LOGIN, 0 },
		{ SRC_AUTH_CRAM_MD5, 0 },
	};
	struct sasl *s;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = sasl_new(v[i].mech, "u", "p", NULL, NULL);
		CHECK(sasl_client_first(s) == v[i].first);
		CHECK(sasl_done(s) == 0);
		sasl_free(s);
	}
	sasl_free(NULL);
}

static void
t_not_sasl(const void *arg)
{
	struct sasl *s;
	char *out = (char *)"x";

	(void)arg;
	s = sasl_new(SRC_AUTH_APOP, "u", "p", NULL, NULL);
	CHECK(sasl_step(s, NULL, 0, &out) == -1);
	CHECK(out == NULL);
	CHECK(strlen(sasl_error(s)) > 0);
	sasl_free(s);
}

/* RFC 4616 section 4 example: authcid "tim", password "tanstaaftanstaaf",
 * no authzid. Both as an initial response and in answer to the empty
 * challenge of a server without SASL-IR. */
static void
t_plain(const void *arg)
{
	static const char want[] = "\0tim\0tanstaaftanstaaf";
	struct sasl *s;
	char *out = NULL, *d;
	size_t n;
	int ir;

	(void)arg;
	for (ir = 0; ir < 2; ir++) {
		s = sasl_new(
		    SRC_AUTH_PLAIN, "tim", "tanstaaftanstaaf", NULL, NULL);
		CHECK(sasl_step(s, ir ? NULL : "", 0, &out) == 0);
		d = dec(out, &n);
		CHECK(d != NULL && n == sizeof(want) - 1
		    && memcmp(d, want, n) == 0);
		CHECK_STR(out, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
		CHECK(sasl_done(s) == 1);
		free(d);
		freezero_str(out);
		/* Nothing more to say after the response. */
		CHECK(sasl_step(s, "", 0, &out) == -1);
		CHECK(sasl_done(s) == 0);
		sasl_free(s);
	}
}

static void
t_plain_challenge_first(const void *arg)
{
	struct sasl *s;
	char *out = NULL;

	(void)arg;
	s = sasl_new(SRC_AUTH_PLAIN, "tim", "pw", NULL, NULL);
	CHECK(step_raw(s, "hello", &out) == -1);
	CHECK(out == NULL);
	CHECK(sasl_done(s) == 0);
	sasl_free(s);
}

static void
t_bad_base64_challenge(const void *arg)
{
	struct sasl *s;
	char *out = NULL;

	(void)arg;
	s = sasl_new(SRC_AUTH_CRAM_MD5, "tim", "pw", NULL, NULL);
	CHECK(sasl_step(s, "PDE4=OTY", 8, &out) == -1);
	CHECK_STR(sasl_error(s), "the server's challenge is not valid base64");
	/* A failed exchange stays failed, and keeps its reason. */
	CHECK(step_raw(s, "<1.2@host>", &out) == -1);
	CHECK_STR(sasl_error(s), "the server's challenge is not valid base64");
	CHECK(out == NULL);
	sasl_free(s);
}

/* LOGIN answers by step: user, then password, whatever the prompts. */
static void
t_login(const void *arg)
{
	static const char *prompts[][2] = {
		{ "VXNlcm5hbWU6", "UGFzc3dvcmQ6" }, /* Username: Password: */
		{ "", "" },
		{ "not base64 at all!", "UGFzc3dvcmQ6" },
	};
	struct sasl *s;
	char *out = NULL;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(prompts) / sizeof(prompts[0]); i++) {
		s = sasl_new(SRC_AUTH_LOGIN, "tim", "tanstaaf", NULL, NULL);
		CHECK(sasl_step(s, prompts[i][0], strlen(prompts[i][0]), &out)
		    == 0);
		CHECK_STR(out, "dGlt");
		CHECK(sasl_done(s) == 0);
		freezero_str(out);
		CHECK(sasl_step(s, prompts[i][1], strlen(prompts[i][1]), &out)
		    == 0);
		CHECK_STR(out, "dGFuc3RhYWY=");
		CHECK(sasl_done(s) == 1);
		freezero_str(out);
		CHECK(sasl_step(s, "", 0, &out) == -1);
		sasl_free(s);
	}

	/* The server speaks first. */
	s = sasl_new(SRC_AUTH_LOGIN, "tim", "tanstaaf", NULL, NULL);
	CHECK(sasl_step(s, NULL, 0, &out) == -1);
	CHECK(out == NULL);
	sasl_free(s);
}

/* RFC 2195 section 2 example. */
static void
t_cram_md5(const void *arg)
{
	static const char ch[]
	    = "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+";
	struct sasl *s;
	char *out = NULL, *d;

	(void)arg;
	s = sasl_new(SRC_AUTH_CRAM_MD5, "tim", "tanstaaftanstaaf", NULL, NULL);
	CHECK(sasl_step(s, ch, strlen(ch), &out) == 0);
	CHECK_STR(out, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
	d = dec(out, NULL);
	CHECK_STR(d, "tim b913a602c7eda7a495b4e6e7334d3890");
	CHECK(sasl_done(s) == 1);
	free(d);
	freezero_str(out);
	sasl_free(s);

	/* No initial response, and no empty challenge. */
	s = sasl_new(SRC_AUTH_CRAM_MD5, "tim", "x", NULL, NULL);
	CHECK(sasl_step(s, NULL, 0, &out) == -1);
	sasl_free(s);
	s = sasl_new(SRC_AUTH_CRAM_MD5, "tim", "x", NULL, NULL);
	CHECK(sasl_step(s, "", 0, &out) == -1);
	CHECK(out == NULL);
	sasl_free(s);
}

struct scram_vec {
	const char *name;
	enum src_auth mech;
	const char *cnonce;
	const char *cfirst;
	const char *sfirst;
	const char *cfinal;
	const char *sfinal;
};

/* RFC 5802 section 5 and RFC 7677 section 3: user "user", password
 * "pencil". */
static const struct scram_vec scram_vecs[] = {
	{ "SCRAM-SHA-1", SRC_AUTH_SCRAM_SHA_1, "fyko+d2lbbFgONRv9qkxdawL",
	    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
	    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "s=QSXCR+Q6sek8bf92,i=4096",
	    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,"
	    "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
	    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=" },
	{ "SCRAM-SHA-256", SRC_AUTH_SCRAM_SHA_256, "rOprNGfwEbeRWgbNEkqO",
	    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
	    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
	    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
	    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
	    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" },
};

/* A SCRAM exchange from the vector up to the client-final message. */
static struct sasl *
scram_to_final(const struct scram_vec *v)
{
	struct sasl *s;
	char *out = NULL, *d;

	s = sasl_new(v->mech, "user", "pencil", NULL, NULL);
	sasl_test_set_nonce(s, v->cnonce);
	CHECK(sasl_step(s, NULL, 0, &out) == 0);
	d = dec(out, NULL);
	CHECK_STR(d, v->cfirst);
	free(d);
	freezero_str(out);
	CHECK(sasl_done(s) == 0);
	expect_step(s, v->sfirst, v->cfinal);
	CHECK(sasl_done(s) == 0);
	return s;
}

static void
t_scram_vector(const void *arg)
{
	const struct scram_vec *v = arg;
	struct sasl *s;
	char *out = NULL;

	s = scram_to_final(v);
	CHECK(step_raw(s, v->sfinal, &out) == 0);
	CHECK_STR(out, "");
	CHECK(sasl_done(s) == 1);
	freezero_str(out);
	/* Nothing comes after the server-final message. */
	CHECK(sasl_step(s, "", 0, &out) == -1);
	CHECK(sasl_done(s) == 0);
	sasl_free(s);
}

/* The server-final message with one signature character changed, and
 * a signature of the wrong length. */
static void
t_scram_forged(const void *arg)
{
	const struct scram_vec *v = arg;
	const char *bad[2];
	char forged[128], *out = NULL;
	struct sasl *s;
	size_t k;

	xstrlcpy(forged, v->sfinal, sizeof(forged));
	forged[2] = forged[2] == 'A' ? 'B' : 'A';
	bad[0] = forged;
	bad[1] = "v=AAAA";
	for (k = 0; k < 2; k++) {
		s = scram_to_final(v);
		CHECK(step_raw(s, bad[k], &out) == -1);
		CHECK(out == NULL);
		CHECK(sasl_done(s) == 0);
		CHECK_STR(sasl_error(s),
		    "server signature mismatch: the server did not prove it "
		    "knows the password");
		sasl_free(s);
	}
}

static void
t_scram_server_error(const void *arg)
{
	const struct scram_vec *v = arg;
	struct sasl *s;
	char *out = NULL;

	s = scram_to_final(v);
	CHECK(step_raw(s, "e=invalid-proof", &out) == -1);
	CHECK(out == NULL);
	CHECK(sasl_done(s) == 0);
	CHECK(strstr(sasl_error(s), "\"invalid-proof\"") != NULL);
	sasl_free(s);
}

/* Server-first messages that must end the exchange. */
static const struct {
	const char *sfirst;
	const char *err; /* a part of the error, or NULL */
} scram_bad_first[] = {
	/* The server nonce must extend ours. */
	{ "r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,"
	  "i=4096",
	    "nonce" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096", "nonce" },
	{ "r=fyko+d2lbbFgONRv9qkxd,s=QSXCR+Q6sek8bf92,i=4096", "nonce" },
	/* Iteration counts: zero, negative, not a number, huge. */
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=0",
	    "iteration" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=-1",
	    "iteration" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=", "iteration" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096x",
	    "iteration" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=10000001",
	    "limit" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,"
	  "i=99999999999999999999999999",
	    "limit" },
	/* Salt: not base64, empty. */
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf9,i=4096", "salt" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=,i=4096", "salt" },
	/* Attributes missing or out of order. */
	{ "s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "nonce" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096", "salt" },
	{ "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92", "iteration" },
	{ "", "nonce" },
	/* RFC 5802 section 5.1: an unknown mandatory extension. */
	{ "m=ext,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
	    "extension" },
	/* A server error instead of server-first. */
	{ "e=unknown-user", "\"unknown-user\"" },
};

static void
t_scram_bad_first(const void *arg)
{
	struct sasl *s;
	char *out = NULL;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(scram_bad_first) / sizeof(scram_bad_first[0]);
	     i++) {
		s = sasl_new(
		    SRC_AUTH_SCRAM_SHA_1, "user", "pencil", NULL, NULL);
		sasl_test_set_nonce(s, "fyko+d2lbbFgONRv9qkxdawL");
		CHECK(sasl_step(s, NULL, 0, &out) == 0);
		freezero_str(out);
		out = NULL;
		CHECK(step_raw(s, scram_bad_first[i].sfirst, &out) == -1);
		CHECK(out == NULL);
		CHECK(sasl_done(s) == 0);
		if (strstr(sasl_error(s), scram_bad_first[i].err) == NULL) {
			fprintf(stderr, "case %zu: error \"%s\"\n", i,
			    sasl_error(s));
			CHECK(0);
		}
		sasl_free(s);
	}
}

/* The smallest iteration count is accepted, and an extension after it
 * is part of the AuthMessage. The expected values were computed with
 * Python's hashlib.pbkdf2_hmac and hmac from RFC 5802 section 3's
 * formulas. */
static void
t_scram_iter_one(const void *arg)
{
	struct sasl *s;
	char *out = NULL;

	(void)arg;
	s = sasl_new(SRC_AUTH_SCRAM_SHA_256, "user", "pencil", NULL, NULL);
	sasl_test_set_nonce(s, "abc");
	CHECK(sasl_step(s, NULL, 0, &out) == 0);
	freezero_str(out);
	expect_step(s, "r=abcdef,s=QSXCR+Q6sek8bf92,i=1,x=ext",
	    "c=biws,r=abcdef,p=u830cxqh7ccDDw4AFP1n8QVnrASkvTFV6V/Luk0LFis=");
	expect_step(
	    s, "v=U3R69RXcVYW/L1Nnh6Ov4VyEpflEF8iIn+ZcwXZQ6h4=,x=y", "");
	CHECK(sasl_done(s) == 1);
	sasl_free(s);
}

/* RFC 5802 section 5.1: ',' and '=' in the user name become =2C and
 * =3D. */
static void
t_scram_escape(const void *arg)
{
	struct sasl *s;
	char *out = NULL, *d;

	(void)arg;
	s = sasl_new(SRC_AUTH_SCRAM_SHA_256, "a,b=c,=", "pencil", NULL, NULL);
	sasl_test_set_nonce(s, "NONCE");
	CHECK(sasl_step(s, NULL, 0, &out) == 0);
	d = dec(out, NULL);
	CHECK_STR(d, "n,,n=a=2Cb=3Dc=2C=3D,r=NONCE");
	free(d);
	freezero_str(out);
	sasl_free(s);
}

static void
t_scram_control_chars(const void *arg)
{
	static const char *cred[][2] = {
		{ "us\ter", "pencil" },
		{ "user", "pen\ncil" },
		{ "user", "pen\x7f" },
	};
	struct sasl *s;
	char *out = NULL;
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(cred) / sizeof(cred[0]); i++) {
		s = sasl_new(
		    SRC_AUTH_SCRAM_SHA_1, cred[i][0], cred[i][1], NULL, NULL);
		CHECK(sasl_step(s, NULL, 0, &out) == -1);
		CHECK(out == NULL);
		CHECK(strstr(sasl_error(s), "control character") != NULL);
		sasl_free(s);
	}
}

/* Random client nonces: at least 18 random bytes in printable base64,
 * different each time. */
static void
t_scram_random_nonce(const void *arg)
{
	struct sasl *s;
	char *out = NULL, *d, *r[2];
	size_t i, k;

	(void)arg;
	for (k = 0; k < 2; k++) {
		s = sasl_new(
		    SRC_AUTH_SCRAM_SHA_1, "user", "pencil", NULL, NULL);
		CHECK(sasl_step(s, NULL, 0, &out) == 0);
		d = dec(out, NULL);
		CHECK(d != NULL && strncmp(d, "n,,n=user,r=", 12) == 0);
		r[k] = xstrdup(d != NULL ? d + 12 : "");
		CHECK(strlen(r[k]) >= 24);
		for (i = 0; r[k][i] != '\0'; i++)
			CHECK(
			    r[k][i] > 0x20 && r[k][i] < 0x7f && r[k][i] != ',');
		free(d);
		freezero_str(out);
		sasl_free(s);
	}
	CHECK(strcmp(r[0], r[1]) != 0);
	free(r[0]);
	free(r[1]);
}

/* Google's XOAUTH2 documentation example, and its error challenge. */
static void
t_xoauth2(const void *arg)
{
	static const char want[] = "user=someuser@example.com\001auth=Bearer "
				   "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29"
				   "tCg\001\001";
	static const char err[]
	    = "eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiQmVhcmVyIiwic2NvcGUiOiJodH"
	      "RwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==";
	struct sasl *s;
	char *out = NULL, *d;
	size_t n;

	(void)arg;
	s = sasl_new(SRC_AUTH_XOAUTH2, "someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", "imap.gmail.com",
	    "993");
	CHECK(sasl_step(s, NULL, 0, &out) == 0);
	d = dec(out, &n);
	CHECK(d != NULL && n == sizeof(want) - 1 && memcmp(d, want, n) == 0);
	CHECK_STR(out,
	    "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZG"
	    "OWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==");
	CHECK(sasl_done(s) == 1);
	free(d);
	freezero_str(out);
	CHECK(sasl_step(s, err, strlen(err), &out) == 0);
	CHECK_STR(out, "");
	CHECK(sasl_done(s) == 0);
	CHECK(strstr(sasl_error(s), "\"status\":\"401\"") != NULL);
	freezero_str(out);
	CHECK(sasl_step(s, err, strlen(err), &out) == -1);
	sasl_free(s);
}

/* RFC 7628 section 4.1 (initial response) and section 4.3 (error
 * challenge, answered with %x01 per section 3.2.3). */
static void
t_oauthbearer(const void *arg)
{
	static const char want[] = "n,a=user@example.com,\001host=server."
				   "example.com\001port=143\001auth=Bearer "
				   "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg=="
				   "\001\001";
	static const char err[]
	    = "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3"
	      "BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29t"
	      "Ly53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=";
	struct sasl *s;
	char *out = NULL, *d;
	size_t n;

	(void)arg;
	s = sasl_new(SRC_AUTH_OAUTHBEARER, "user@example.com",
	    "vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg==", "server.example.com",
	    "143");
	CHECK(sasl_step(s, NULL, 0, &out) == 0);
	d = dec(out, &n);
	CHECK(d != NULL && n == sizeof(want) - 1 && memcmp(d, want, n) == 0);
	CHECK_STR(out,
	    "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAX"
	    "BvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJo"
	    "ZG1semRHRXVZMjl0Q2c9PQEB");
	CHECK(sasl_done(s) == 1);
	free(d);
	freezero_str(out);
	CHECK(sasl_step(s, err, strlen(err), &out) == 0);
	CHECK_STR(out, "AQ==");
	CHECK(sasl_done(s) == 0);
	CHECK(strstr(sasl_error(s), "invalid_token") != NULL);
	freezero_str(out);
	CHECK(sasl_step(s, err, strlen(err), &out) == -1);
	sasl_free(s);
}

/* The gs2 header's authzid is escaped like a SCRAM name, and a token
 * carrying the %x01 separator is refused. */
static void
t_oauth_escape_and_ctl(const void *arg)
{
	static const char want[] = "n,a=a=2Cb=3D,\001host=h\001port=1\001"
				   "auth=Bearer t\001\001";
	struct sasl *s;
	char *out = NULL, *d;
	size_t n;

	(void)arg;
	s = sasl_new(SRC_AUTH_OAUTHBEARER, "a,b=", "t", "h", "1");
	CHECK(sasl_step(s, NULL, 0, &out) == 0);
	d = dec(out, &n);
	CHECK(d != NULL && n == sizeof(want) - 1 && memcmp(d, want, n) == 0);
	free(d);
	freezero_str(out);
	sasl_free(s);

	s = sasl_new(SRC_AUTH_XOAUTH2, "u", "tok\001auth=x", NULL, NULL);
	out = NULL;
	CHECK(sasl_step(s, NULL, 0, &out) == -1);
	CHECK(out == NULL);
	CHECK(strstr(sasl_error(s), "auth=x") == NULL);
	sasl_free(s);
}

/* Mechanism names to bits, and what auto picks from a server's offer. */
static void
t_mech_bits(const void *arg)
{
	static const struct {
		const char *offer; /* space-separated names */
		enum src_auth pick;
	} cases[] = {
		{ "PLAIN LOGIN SCRAM-SHA-1 SCRAM-SHA-256",
		    SRC_AUTH_SCRAM_SHA_256 },
		{ "login plain scram-sha-1", SRC_AUTH_SCRAM_SHA_1 },
		{ "LOGIN PLAIN", SRC_AUTH_PLAIN },
		{ "LOGIN", SRC_AUTH_LOGIN },
		/* Only when named: never picked by auto. */
		{ "CRAM-MD5 XOAUTH2 OAUTHBEARER", SRC_AUTH_AUTO },
		{ "GSSAPI DIGEST-MD5 SCRAM-SHA-256-PLUS", SRC_AUTH_AUTO },
		{ "", SRC_AUTH_AUTO },
	};
	size_t i;

	(void)arg;
	CHECK(sasl_mech_bit("PLAIN", 5) == 1u << SRC_AUTH_PLAIN);
	CHECK(
	    sasl_mech_bit("scram-sha-256", 13) == 1u << SRC_AUTH_SCRAM_SHA_256);
	CHECK(sasl_mech_bit("SCRAM-SHA-2", 11) == 0);
	CHECK(sasl_mech_bit("PLAINX", 6) == 0);
	CHECK(sasl_mech_bit("", 0) == 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *s = cases[i].offer, *e;
		unsigned bits = 0;

		while (*s != '\0') {
			e = strchr(s, ' ');
			if (e == NULL)
				e = s + strlen(s);
			bits |= sasl_mech_bit(s, (size_t)(e - s));
			s = *e ? e + 1 : e;
		}
		CHECK(sasl_auto_pick(bits) == cases[i].pick);
	}
}

int
main(void)
{
	T_RUN("b64 encode RFC 4648 vectors", t_b64_encode, NULL);
	T_RUN("b64 decode RFC 4648 vectors", t_b64_decode, NULL);
	T_RUN("b64 decode rejects invalid input", t_b64_invalid, NULL);
	T_RUN("b64 binary roundtrip across chunks", t_b64_roundtrip, NULL);
	T_RUN("APOP RFC 1939 example", t_apop, NULL);
	T_RUN("mechanism names", t_mech_names, NULL);
	T_RUN("client-first mechanisms", t_client_first, NULL);
	T_RUN("non-SASL mechanism refused", t_not_sasl, NULL);
	T_RUN("PLAIN RFC 4616 example", t_plain, NULL);
	T_RUN("PLAIN refuses a challenge first", t_plain_challenge_first, NULL);
	T_RUN("invalid base64 challenge", t_bad_base64_challenge, NULL);
	T_RUN("LOGIN two steps", t_login, NULL);
	T_RUN("CRAM-MD5 RFC 2195 example", t_cram_md5, NULL);
	T_RUN("SCRAM-SHA-1 RFC 5802 example", t_scram_vector, &scram_vecs[0]);
	T_RUN("SCRAM-SHA-256 RFC 7677 example", t_scram_vector, &scram_vecs[1]);
	T_RUN("SCRAM-SHA-1 forged server signature", t_scram_forged,
	    &scram_vecs[0]);
	T_RUN("SCRAM-SHA-256 forged server signature", t_scram_forged,
	    &scram_vecs[1]);
	T_RUN("SCRAM-SHA-1 server error", t_scram_server_error, &scram_vecs[0]);
	T_RUN(
	    "SCRAM-SHA-256 server error", t_scram_server_error, &scram_vecs[1]);
	T_RUN("SCRAM bad server-first messages", t_scram_bad_first, NULL);
	T_RUN("SCRAM iteration count 1 and extensions", t_scram_iter_one, NULL);
	T_RUN("SCRAM user name escaping", t_scram_escape, NULL);
	T_RUN("SCRAM control characters refused", t_scram_control_chars, NULL);
	T_RUN("SCRAM random client nonce", t_scram_random_nonce, NULL);
	T_RUN("mechanism bits and auto preference", t_mech_bits, NULL);
	T_RUN("XOAUTH2 initial response and error", t_xoauth2, NULL);
	T_RUN("OAUTHBEARER RFC 7628 examples", t_oauthbearer, NULL);
	T_RUN("OAUTHBEARER escaping, control characters",
	    t_oauth_escape_and_ctl, NULL);
	return T_DONE();
}
