/*
 * SASL client mechanisms and the APOP digest. See sasl.h.
 *
 * Each mechanism is a short sequence of steps counted in s->step: the
 * initial response (or the answer to the server's first challenge) is
 * step 0, the answer to the next challenge step 1, and so on. A failed
 * step leaves the exchange failed for good.
 */
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "../tls/buf.h"
#include "../tls/util.h"
#include "sasl.h"

/* Bounds on the SCRAM iteration count the server may ask for: RFC 5802
 * section 5.1 requires a positive number, and a huge one would make us
 * spend minutes in PBKDF2. */
#define SCRAM_MAX_ITER 10000000UL

/* Random bytes in a SCRAM client nonce, before base64. */
#define NONCE_BYTES 24

/* libcrypto's base64 takes an int length: work in chunks of this many
 * input bytes (a multiple of both 3 and 4). */
#define B64_CHUNK (3 * 4 * 4096)

struct sasl {
	enum src_auth mech;
	char *user;
	char *secret;
	char *host;
	char *port;
	int step;
	int done;
	int failed;
	char *held; /* the initial response sasl_start held back */
	char *cnonce; /* SCRAM client nonce */
	char *cfbare; /* SCRAM client-first-message-bare */
	unsigned char ssig[EVP_MAX_MD_SIZE]; /* expected ServerSignature */
	size_t ssiglen;
	char err[256];
};

/* Base64 of the buffer's bytes as a new string; then wipe the buffer. */
static char *
buf_b64(struct buf *b)
{
	char *s;

	s = sasl_b64_encode(b->p, b->len);
	buf_free(b);
	return s;
}

static void
wipe_free(void *p, size_t n)
{
	if (p != NULL) {
		explicit_bzero(p, n);
		free(p);
	}
}

static int fail(struct sasl *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Record why the exchange failed; it stays failed. Returns -1. */
static int
fail(struct sasl *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	s->failed = 1;
	s->done = 0;
	return -1;
}

static void
tohex(const unsigned char *d, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 0xf];
	}
	hex[2 * n] = '\0';
}

static int
has_ctl(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 1;
	return 0;
}

static int
b64_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
	    || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

char *
sasl_b64_encode(const void *in, size_t len)
{
	const unsigned char *p = in;
	char *out;
	size_t i, n, o = 0;

	out = xreallocarray(NULL, len / 3 + 2, 4);
	for (i = 0; i < len; i += n) {
		n = len - i < B64_CHUNK ? len - i : B64_CHUNK;
		o += (size_t)EVP_EncodeBlock(
		    (unsigned char *)out + o, p + i, (int)n);
	}
	out[o] = '\0';
	return out;
}

/*
 * RFC 4648 section 4 with padding, strictly: the length must be a
 * multiple of 4, only the alphabet, and '=' only as the last one or two
 * characters. EVP_DecodeBlock counts the padding as decoded zero bytes,
 * so those are taken off its result.
 */
unsigned char *
sasl_b64_decode(const char *in, size_t len, size_t *outlen)
{
	unsigned char *out;
	size_t i, n, o = 0, pad = 0;
	int r;

	*outlen = 0;
	if (len % 4 != 0)
		return NULL;
	for (i = 0; i < len; i++) {
		if (in[i] == '=') {
			if (i + 2 < len)
				return NULL;
			pad++;
		} else if (pad > 0 || !b64_char((unsigned char)in[i]))
			return NULL;
	}
	out = xmalloc(len / 4 * 3 + 1);
	for (i = 0; i < len; i += n) {
		n = len - i < B64_CHUNK ? len - i : B64_CHUNK;
		r = EVP_DecodeBlock(
		    out + o, (const unsigned char *)in + i, (int)n);
		if (r < 0) {
			wipe_free(out, len / 4 * 3 + 1);
			return NULL;
		}
		o += (size_t)r;
	}
	o -= pad;
	out[o] = '\0';
	*outlen = o;
	return out;
}

void
sasl_apop_digest(
    const char *stamp, size_t stamplen, const char *secret, char hex[33])
{
	EVP_MD_CTX *ctx;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* RFC 1939 section 7: MD5 of the greeting's timestamp followed by
	 * the shared secret. Should libcrypto fail (no MD5 in FIPS mode),
	 * the digest is empty and the server will refuse it. */
	hex[0] = '\0';
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL)
	    && EVP_DigestUpdate(ctx, stamp, stamplen)
	    && EVP_DigestUpdate(ctx, secret, strlen(secret))
	    && EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 16)
		tohex(md, 16, hex);
	EVP_MD_CTX_free(ctx);
	explicit_bzero(md, sizeof(md));
}

const char *
sasl_mech_name(enum src_auth mech)
{
	switch (mech) {
	case SRC_AUTH_LOGIN:
		return "LOGIN";
	case SRC_AUTH_PLAIN:
		return "PLAIN";
	case SRC_AUTH_CRAM_MD5:
		return "CRAM-MD5";
	case SRC_AUTH_SCRAM_SHA_1:
		return "SCRAM-SHA-1";
	case SRC_AUTH_SCRAM_SHA_256:
		return "SCRAM-SHA-256";
	case SRC_AUTH_XOAUTH2:
		return "XOAUTH2";
	case SRC_AUTH_OAUTHBEARER:
		return "OAUTHBEARER";
	case SRC_AUTH_AUTO:
	case SRC_AUTH_USER:
	case SRC_AUTH_APOP:
		break;
	}
	return NULL;
}

unsigned
sasl_mech_bit(const char *name, size_t len)
{
	static const enum src_auth all[] = { SRC_AUTH_LOGIN, SRC_AUTH_PLAIN,
		SRC_AUTH_CRAM_MD5, SRC_AUTH_SCRAM_SHA_1, SRC_AUTH_SCRAM_SHA_256,
		SRC_AUTH_XOAUTH2, SRC_AUTH_OAUTHBEARER };
	const char *m;
	size_t i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		m = sasl_mech_name(all[i]);
		if (strlen(m) == len && strncasecmp(m, name, len) == 0)
			return 1u << all[i];
	}
	return 0;
}

int
sasl_offered(unsigned offered, enum src_auth mech)
{
	return sasl_mech_name(mech) != NULL && (offered & (1u << mech)) != 0;
}

enum src_auth
sasl_auto_pick(unsigned offered)
{
	/* Strongest first; CRAM-MD5 and the OAuth mechanisms only when
	 * named (SPEC.md, auth). */
	static const enum src_auth pref[] = { SRC_AUTH_SCRAM_SHA_256,
		SRC_AUTH_SCRAM_SHA_1, SRC_AUTH_PLAIN, SRC_AUTH_LOGIN };
	size_t i;

	for (i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if (offered & (1u << pref[i]))
			return pref[i];
	return SRC_AUTH_AUTO;
}

struct sasl *
sasl_new(enum src_auth mech, const char *user, const char *secret,
    const char *host, const char *port)
{
	struct sasl *s;

	s = xcalloc(1, sizeof(*s));
	s->mech = mech;
	s->user = xstrdup(user != NULL ? user : "");
	s->secret = xstrdup(secret != NULL ? secret : "");
	s->host = host != NULL ? xstrdup(host) : NULL;
	s->port = port != NULL ? xstrdup(port) : NULL;
	return s;
}

int
sasl_client_first(const struct sasl *s)
{
	switch (s->mech) {
	case SRC_AUTH_PLAIN:
	case SRC_AUTH_SCRAM_SHA_1:
	case SRC_AUTH_SCRAM_SHA_256:
	case SRC_AUTH_XOAUTH2:
	case SRC_AUTH_OAUTHBEARER:
		return 1;
	default:
		return 0;
	}
}

int
sasl_done(const struct sasl *s)
{
	return s->done;
}

int
sasl_last(const struct sasl *s)
{
	return s->done && s->held == NULL && s->mech != SRC_AUTH_XOAUTH2
	    && s->mech != SRC_AUTH_OAUTHBEARER;
}

int
sasl_answer_known(const struct sasl *s)
{
	return (s->mech == SRC_AUTH_SCRAM_SHA_1
		   || s->mech == SRC_AUTH_SCRAM_SHA_256)
	    && s->step == 2 && !s->failed;
}

const char *
sasl_error(const struct sasl *s)
{
	return s->err;
}

void
sasl_test_set_nonce(struct sasl *s, const char *nonce)
{
	freezero_str(s->cnonce);
	s->cnonce = nonce != NULL ? xstrdup(nonce) : NULL;
}

void
sasl_free(struct sasl *s)
{
	if (s == NULL)
		return;
	freezero_str(s->user);
	freezero_str(s->secret);
	freezero_str(s->host);
	freezero_str(s->port);
	freezero_str(s->cnonce);
	freezero_str(s->cfbare);
	freezero_str(s->held);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

/* RFC 4616 section 2: authzid NUL authcid NUL passwd, authzid empty. */
static int
plain_step(struct sasl *s, char **out)
{
	struct buf b = { 0 };

	if (s->step > 0)
		return fail(s, "unexpected PLAIN challenge after the response");
	buf_add(&b, "", 1);
	buf_str(&b, s->user);
	buf_add(&b, "", 1);
	buf_str(&b, s->secret);
	*out = buf_b64(&b);
	s->done = 1;
	return 0;
}

/*
 * LOGIN (draft-murchison-sasl-login): the server prompts for the user
 * name, then the password. The prompts' words vary between servers, so
 * they are not read: the first is answered with the user name, the
 * second with the password.
 */
static int
login_step(struct sasl *s, const char *in, char **out)
{
	if (in == NULL)
		return fail(s,
		    "LOGIN has no initial response; the server must prompt "
		    "first");
	switch (s->step) {
	case 0:
		*out = sasl_b64_encode(s->user, strlen(s->user));
		return 0;
	case 1:
		*out = sasl_b64_encode(s->secret, strlen(s->secret));
		s->done = 1;
		return 0;
	default:
		return fail(s, "unexpected LOGIN prompt after the password");
	}
}

/* RFC 2195 section 2: user name, a space, and the lowercase hex
 * HMAC-MD5 of the challenge keyed with the password. */
static int
cram_step(struct sasl *s, const unsigned char *ch, size_t chlen, char **out)
{
	struct buf b = { 0 };
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	size_t klen;

	if (ch == NULL)
		return fail(s,
		    "CRAM-MD5 has no initial response; the server must send a "
		    "challenge first");
	if (s->step > 0)
		return fail(
		    s, "unexpected CRAM-MD5 challenge after the response");
	if (chlen == 0)
		return fail(s, "the server sent an empty CRAM-MD5 challenge");
	if ((klen = strlen(s->secret)) > INT_MAX)
		return fail(s, "the password is too long");
	if (HMAC(EVP_md5(), s->secret, (int)klen, ch, chlen, md, &mdlen) == NULL
	    || mdlen != 16) {
		explicit_bzero(md, sizeof(md));
		return fail(s, "cannot compute HMAC-MD5 (is MD5 disabled?)");
	}
	tohex(md, mdlen, hex);
	buf_str(&b, s->user);
	buf_add(&b, " ", 1);
	buf_str(&b, hex);
	*out = buf_b64(&b);
	explicit_bzero(md, sizeof(md));
	explicit_bzero(hex, sizeof(hex));
	s->done = 1;
	return 0;
}

/* Append a SASL name with ',' and '=' escaped as RFC 5802 section 5.1
 * (and RFC 5801's gs2 header, used by OAUTHBEARER) require. */
static void
buf_saslname(struct buf *b, const char *u)
{
	for (; *u != '\0'; u++) {
		if (*u == ',')
			buf_str(b, "=2C");
		else if (*u == '=')
			buf_str(b, "=3D");
		else
			buf_add(b, u, 1);
	}
}

static const EVP_MD *
scram_md(const struct sasl *s)
{
	return s->mech == SRC_AUTH_SCRAM_SHA_1 ? EVP_sha1() : EVP_sha256();
}

/*
 * SCRAM client-first message (RFC 5802 section 7): gs2 header "n,,"
 * (no channel binding, no authzid), then "n=user,r=nonce". Real
 * SASLprep (RFC 4013) is not done; names and passwords are sent as
 * their UTF-8 bytes, and control characters, which SASLprep prohibits,
 * are refused.
 */
static int
scram_first(struct sasl *s, char **out)
{
	struct buf b = { 0 };
	unsigned char rnd[NONCE_BYTES];

	if (has_ctl(s->user))
		return fail(s,
		    "the user name contains a control character, which SCRAM "
		    "does not allow");
	if (has_ctl(s->secret))
		return fail(s,
		    "the password contains a control character, which SCRAM "
		    "does not allow");
	if (s->cnonce == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return fail(
			    s, "cannot get random bytes for the SCRAM nonce");
		s->cnonce = sasl_b64_encode(rnd, sizeof(rnd));
		explicit_bzero(rnd, sizeof(rnd));
	}
	buf_str(&b, "n=");
	buf_saslname(&b, s->user);
	buf_str(&b, ",r=");
	buf_str(&b, s->cnonce);
	s->cfbare = xstrdup((char *)b.p);
	buf_free(&b);
	buf_str(&b, "n,,");
	buf_str(&b, s->cfbare);
	*out = buf_b64(&b);
	return 0;
}

/*
 * Take the attribute "name=value" at *p, which runs to the next ',' or
 * the end, and move *p past it and its ','. Returns 0, or -1 when the
 * attribute at *p is not the one named.
 */
static int
scram_attr(const char **p, char name, const char **val, size_t *vlen)
{
	const char *q = *p;
	size_t n;

	if (q[0] != name || q[1] != '=')
		return -1;
	q += 2;
	n = strcspn(q, ",");
	*val = q;
	*vlen = n;
	*p = q[n] == ',' ? q + n + 1 : q + n;
	return 0;
}

static int
scram_server_error(struct sasl *s, const char *msg)
{
	const char *v;
	size_t vlen;
	char q[128];

	/* RFC 5802 section 7: server-error = "e=" server-error-value. */
	if (scram_attr(&msg, 'e', &v, &vlen) == -1)
		return 0;
	src_quote(q, sizeof(q), v, vlen);
	fail(s, "the server refused the SCRAM exchange: \"%s\"", q);
	return -1;
}

/*
 * RFC 5802 section 3: from the password, the salt and the iteration
 * count, compute the ClientProof for the AuthMessage am into proof, and
 * keep the ServerSignature in s.
 */
static int
scram_keys(struct sasl *s, const unsigned char *salt, size_t saltlen, int iter,
    const struct buf *am, unsigned char *proof)
{
	static const unsigned char ckname[] = "Client Key";
	static const unsigned char skname[] = "Server Key";
	const EVP_MD *md = scram_md(s);
	unsigned char salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE];
	unsigned char stored[EVP_MAX_MD_SIZE], csig[EVP_MAX_MD_SIZE];
	unsigned char skey[EVP_MAX_MD_SIZE];
	unsigned int hlen;
	size_t i, plen;
	int mdlen, rc = -1;

	mdlen = EVP_MD_size(md);
	plen = strlen(s->secret);
	if (mdlen <= 0 || plen > INT_MAX || saltlen > INT_MAX)
		goto done;
	if (!PKCS5_PBKDF2_HMAC(s->secret, (int)plen, salt, (int)saltlen, iter,
		md, mdlen, salted))
		goto done;
	if (HMAC(md, salted, mdlen, ckname, 10, ckey, &hlen) == NULL)
		goto done;
	if (EVP_Digest(ckey, (size_t)mdlen, stored, &hlen, md, NULL) != 1)
		goto done;
	if (HMAC(
		md, stored, mdlen, (unsigned char *)am->p, am->len, csig, &hlen)
	    == NULL)
		goto done;
	if (HMAC(md, salted, mdlen, skname, 10, skey, &hlen) == NULL)
		goto done;
	if (HMAC(md, skey, mdlen, (unsigned char *)am->p, am->len, s->ssig,
		&hlen)
	    == NULL)
		goto done;
	s->ssiglen = (size_t)mdlen;
	for (i = 0; i < (size_t)mdlen; i++)
		proof[i] = ckey[i] ^ csig[i];
	rc = 0;
done:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(ckey, sizeof(ckey));
	explicit_bzero(stored, sizeof(stored));
	explicit_bzero(csig, sizeof(csig));
	explicit_bzero(skey, sizeof(skey));
	return rc;
}

/* What a SCRAM server-first message gives, checked. */
struct scram_first {
	const char *nonce; /* points into the message */
	size_t nlen;
	unsigned char *salt;
	size_t saltlen;
	unsigned long iter;
};

/* The server nonce at *p ("r="): printable, and ours extended. */
static int
scram_nonce(struct sasl *s, const char **p, struct scram_first *f)
{
	size_t i;

	if (scram_attr(p, 'r', &f->nonce, &f->nlen) == -1)
		return fail(s, "the SCRAM server nonce is missing");
	for (i = 0; i < f->nlen; i++)
		if (f->nonce[i] < 0x21 || f->nonce[i] > 0x7e)
			return fail(
			    s, "the SCRAM server nonce is not printable");
	if (f->nlen <= strlen(s->cnonce)
	    || memcmp(f->nonce, s->cnonce, strlen(s->cnonce)) != 0)
		return fail(s, "the SCRAM server nonce does not extend ours");
	return 0;
}

/* The iteration count v (vlen bytes): a positive decimal number no
 * larger than SCRAM_MAX_ITER. */
static int
scram_iter(struct sasl *s, const char *v, size_t vlen, unsigned long *iter)
{
	char q[64];
	size_t i;

	*iter = 0;
	for (i = 0; i < vlen; i++) {
		if (v[i] < '0' || v[i] > '9')
			break;
		if (*iter <= SCRAM_MAX_ITER)
			*iter = *iter * 10 + (unsigned long)(v[i] - '0');
	}
	src_quote(q, sizeof(q), v, vlen);
	if (vlen == 0 || i < vlen || *iter == 0)
		return fail(s,
		    "the SCRAM iteration count \"%s\" is not a positive number",
		    q);
	if (*iter > SCRAM_MAX_ITER)
		return fail(s,
		    "the SCRAM iteration count %s is above our limit of %lu", q,
		    SCRAM_MAX_ITER);
	return 0;
}

/*
 * SCRAM server-first message (RFC 5802 section 7):
 * [m=ext,]r=nonce,s=salt,i=count[,ext...]. On success f->salt is
 * allocated (the caller wipes it); on failure it is freed.
 */
static int
scram_parse_first(
    struct sasl *s, const char *msg, size_t len, struct scram_first *f)
{
	const char *p = msg, *v;
	size_t vlen;

	memset(f, 0, sizeof(*f));
	if (memchr(msg, '\0', len) != NULL)
		return fail(s, "the SCRAM server-first message contains a NUL");
	if (scram_server_error(s, msg) == -1)
		return -1;
	/* RFC 5802 section 5.1: a client that does not know the mandatory
	 * extension must fail. */
	if (msg[0] == 'm' && msg[1] == '=')
		return fail(
		    s, "the server requires a SCRAM extension we do not know");
	if (scram_nonce(s, &p, f) == -1)
		return -1;
	if (scram_attr(&p, 's', &v, &vlen) == -1)
		return fail(s, "the SCRAM salt is missing");
	f->salt = sasl_b64_decode(v, vlen, &f->saltlen);
	if (f->salt == NULL || f->saltlen == 0)
		fail(s, "the SCRAM salt is not valid base64");
	else if (scram_attr(&p, 'i', &v, &vlen) == -1)
		fail(s, "the SCRAM iteration count is missing");
	else if (scram_iter(s, v, vlen, &f->iter) == 0)
		return 0;
	wipe_free(f->salt, f->saltlen);
	f->salt = NULL;
	return -1;
}

/*
 * Answer the server-first message: compute the client proof (RFC 5802
 * section 3) and send client-final "c=biws,r=nonce,p=proof"; keep the
 * server signature to check the server's final message against.
 */
static int
scram_second(struct sasl *s, const char *msg, size_t len, char **out)
{
	struct buf am = { 0 }, cf = { 0 }, wp = { 0 };
	unsigned char proof[EVP_MAX_MD_SIZE];
	struct scram_first f;
	char *b64 = NULL;
	int rc = -1;

	if (scram_parse_first(s, msg, len, &f) == -1)
		return -1;
	/* client-final-message-without-proof, and the AuthMessage of
	 * RFC 5802 section 3. "biws" is base64 of the gs2 header "n,,". */
	buf_str(&cf, "c=biws,r=");
	buf_add(&cf, f.nonce, f.nlen);
	buf_str(&am, s->cfbare);
	buf_add(&am, ",", 1);
	buf_add(&am, msg, len);
	buf_add(&am, ",", 1);
	buf_add(&am, cf.p, cf.len);
	if (scram_keys(s, f.salt, f.saltlen, (int)f.iter, &am, proof) == -1) {
		fail(s, "cannot compute the SCRAM proof");
		goto done;
	}
	b64 = sasl_b64_encode(proof, s->ssiglen);
	buf_add(&wp, cf.p, cf.len);
	buf_str(&wp, ",p=");
	buf_str(&wp, b64);
	*out = buf_b64(&wp);
	rc = 0;
done:
	buf_free(&am);
	buf_free(&cf);
	buf_free(&wp);
	freezero_str(b64);
	wipe_free(f.salt, f.saltlen);
	explicit_bzero(proof, sizeof(proof));
	return rc;
}

/*
 * SCRAM server-final message (RFC 5802 section 7): "v=" and the server
 * signature, or "e=" and an error. Only a signature equal to the one we
 * computed proves the server knows the password (section 9).
 */
static int
scram_last(struct sasl *s, const char *msg, size_t len, char **out)
{
	const char *p = msg, *v;
	unsigned char *sig;
	size_t vlen, siglen;
	int ok;

	if (memchr(msg, '\0', len) != NULL)
		return fail(s, "the SCRAM server-final message contains a NUL");
	if (scram_server_error(s, msg) == -1)
		return -1;
	if (scram_attr(&p, 'v', &v, &vlen) == -1)
		return fail(s,
		    "the SCRAM server-final message has no server signature");
	if ((sig = sasl_b64_decode(v, vlen, &siglen)) == NULL)
		return fail(s, "the SCRAM server signature is not base64");
	ok = siglen == s->ssiglen && CRYPTO_memcmp(sig, s->ssig, siglen) == 0;
	wipe_free(sig, siglen);
	if (!ok)
		return fail(s,
		    "server signature mismatch: the server did not prove it "
		    "knows the password");
	*out = xstrdup("");
	s->done = 1;
	return 0;
}

static int
scram_step(struct sasl *s, const unsigned char *in, size_t len, char **out)
{
	switch (s->step) {
	case 0:
		return scram_first(s, out);
	case 1:
		return scram_second(s, (const char *)in, len, out);
	case 2:
		return scram_last(s, (const char *)in, len, out);
	default:
		return fail(s,
		    "unexpected SCRAM challenge after the server's final "
		    "message");
	}
}

/*
 * XOAUTH2 (Google's and Microsoft's documentation) and OAUTHBEARER
 * (RFC 7628 section 3.1). A challenge after the initial response
 * carries the server's error as JSON; the client answers it with an
 * empty response (XOAUTH2) or a lone %x01 (RFC 7628 section 3.2.3),
 * and the server then ends the exchange with a failure.
 */
static int
oauth_step(struct sasl *s, const unsigned char *in, size_t len, char **out)
{
	struct buf b = { 0 };
	char q[200];

	switch (s->step) {
	case 0:
		if (has_ctl(s->user) || has_ctl(s->secret)
		    || (s->host != NULL && has_ctl(s->host))
		    || (s->port != NULL && has_ctl(s->port)))
			return fail(s,
			    "the user name, token, host or port contains a "
			    "control character");
		if (s->mech == SRC_AUTH_XOAUTH2) {
			buf_str(&b, "user=");
			buf_str(&b, s->user);
		} else {
			buf_str(&b, "n,a=");
			buf_saslname(&b, s->user);
			buf_str(&b, ",");
			if (s->host != NULL) {
				buf_str(&b, "\001host=");
				buf_str(&b, s->host);
			}
			if (s->port != NULL) {
				buf_str(&b, "\001port=");
				buf_str(&b, s->port);
			}
		}
		buf_str(&b, "\001auth=Bearer ");
		buf_str(&b, s->secret);
		buf_str(&b, "\001\001");
		*out = buf_b64(&b);
		s->done = 1;
		return 0;
	case 1:
		src_quote(q, sizeof(q), (const char *)in, len);
		snprintf(s->err, sizeof(s->err),
		    "the server refused the token: \"%s\"", q);
		*out = xstrdup(s->mech == SRC_AUTH_XOAUTH2 ? "" : "AQ==");
		s->done = 0;
		return 0;
	default:
		return fail(s, "unexpected %s challenge after the error reply",
		    sasl_mech_name(s->mech));
	}
}

int
sasl_step(struct sasl *s, const char *in, size_t inlen, char **out)
{
	unsigned char *dec = NULL;
	size_t declen = 0;
	int rc;

	*out = NULL;
	if (s->failed)
		return -1;
	if (sasl_mech_name(s->mech) == NULL)
		return fail(s, "not a SASL mechanism");
	if (in == NULL && s->step > 0)
		return fail(s, "no server challenge given");
	/* LOGIN's prompts are not read, so they need not even be base64. */
	if (in != NULL && s->mech != SRC_AUTH_LOGIN
	    && (dec = sasl_b64_decode(in, inlen, &declen)) == NULL)
		return fail(s, "the server's challenge is not valid base64");
	/* RFC 4422 section 5: without an initial response in the command,
	 * the server sends an empty challenge, answered with the initial
	 * response. */
	if (sasl_client_first(s) && s->step == 0 && declen > 0) {
		wipe_free(dec, declen + 1);
		return fail(s,
		    "the server sent a challenge before our initial response");
	}
	switch (s->mech) {
	case SRC_AUTH_PLAIN:
		rc = plain_step(s, out);
		break;
	case SRC_AUTH_LOGIN:
		rc = login_step(s, in, out);
		break;
	case SRC_AUTH_CRAM_MD5:
		rc = cram_step(s, dec, declen, out);
		break;
	case SRC_AUTH_SCRAM_SHA_1:
	case SRC_AUTH_SCRAM_SHA_256:
		rc = scram_step(s, dec, declen, out);
		break;
	default:
		rc = oauth_step(s, dec, declen, out);
		break;
	}
	wipe_free(dec, declen + 1);
	if (rc == 0)
		s->step++;
	return rc;
}

int
sasl_start(struct sasl *s, const char *name, const struct sasl_line *how,
    char **line, char show[SASL_SHOW])
{
	char *ir = NULL;
	int n;

	if (sasl_client_first(s) && sasl_step(s, NULL, 0, &ir) == -1)
		return -1;
	/* An empty initial response is sent as "=". One that would make
	 * the command longer than the protocol allows waits for the
	 * server's empty challenge instead. */
	if (ir != NULL
	    && strlen("AUTH  \r\n") + strlen(name) + (*ir ? strlen(ir) : 1)
		<= how->cmdmax) {
		n = xasprintf(line, "AUTH %s %s\r\n", name, *ir ? ir : "=");
		snprintf(show, SASL_SHOW, "AUTH %s <redacted>", name);
		freezero_str(ir);
	} else {
		n = xasprintf(line, "AUTH %s\r\n", name);
		snprintf(show, SASL_SHOW, "AUTH %s", name);
		s->held = ir;
	}
	return n;
}

int
sasl_answer(struct source *src, struct sasl *s, const struct sasl_line *how)
{
	char *resp, *line;
	const char *chal;
	size_t chlen, steps;
	int n, rc = 0;

	for (steps = 0; rc == 0; steps++) {
		if ((rc = how->next(src, how->arg, &chal, &chlen)) != 1)
			break;
		if (steps == how->maxsteps) {
			rc = src_fail(src, SRC_FPROTO,
			    "too many %sAUTH challenges", how->who);
			break;
		}
		if (s->held != NULL) {
			resp = s->held;
			s->held = NULL;
		} else if (sasl_step(s, chal, chlen, &resp) == -1) {
			rc = src_fail(src, SRC_FAUTH,
			    "%sauthentication failed: %s", how->who,
			    sasl_error(s));
			break;
		}
		n = xasprintf(&line, "%s\r\n", resp);
		freezero_str(resp);
		rc = line_send(src, how->lp, line, (size_t)n, "<redacted>");
		freezero_str(line);
	}
	return rc;
}

int
sasl_exchange(struct source *src, struct sasl *s, const char *name,
    const struct sasl_line *how)
{
	char show[SASL_SHOW], *line;
	int n, rc;

	if ((n = sasl_start(s, name, how, &line, show)) == -1)
		return src_fail(
		    src, SRC_FAUTH, "%s%s: %s", how->who, name, sasl_error(s));
	rc = line_send(src, how->lp, line, (size_t)n, show);
	freezero_str(line);
	return rc == -1 ? -1 : sasl_answer(src, s, how);
}
