/*
 * --daemon. See daemon.h.
 *
 * One process, one poll(2) loop. Each account is a small state machine:
 *
 *   due:     run it now (run_fetch, the code of a one-shot run, lock
 *            included); then
 *   waiting: until poll_interval has passed, or its watcher saw new
 *            mail, or SIGUSR1 came; then due again;
 *   backoff: after a failed run, wait 30 s, doubling up to poll_interval
 *            or 30 minutes, whichever is larger; then due.
 *
 * The watcher of an IMAP account with idle = yes is a connection of its
 * own that only EXAMINEs the first folder and waits in IDLE (RFC 2177);
 * where the server offers NOTIFY (RFC 5465), it also asks to be told of
 * new mail in the other folders.
 * It changes nothing and holds no lock; when the server announces mail
 * (EXISTS, RECENT) the account is due. Every run opens its own session,
 * so the daemon's runs are one-shot runs, and the watcher stays in IDLE
 * through them. IDLE is renewed (DONE, NOOP, IDLE) every 20 minutes,
 * which also proves the connection alive; TCP keepalive finds a peer
 * that vanished in between. The clocks are looked at every few
 * seconds: after a suspend (CLOCK_BOOTTIME ran ahead of
 * CLOCK_MONOTONIC) every watcher is renewed at once, so a dead one is
 * found within the account's timeout, and an account in backoff is
 * tried again at once.
 *
 * Signals only set flags and write a byte to a pipe that the loop
 * polls; a run in progress looks at the stop flag between messages.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tls/util.h"
#include "daemon.h"
#include "mailboxes.h"
#include "policy.h"
#include "run.h"

#define D_RENEW (20 * 60) /* seconds in IDLE before it is renewed */
#define D_MAXBACKOFF (30 * 60)
#define D_WAKE_MS 5000 /* look at the clocks at least this often */
#define D_SUSPEND_MS 3000 /* a jump of the clocks this large: a suspend */
#define D_KEEPALIVE 120 /* seconds of silence before TCP probes */

/* Set by the signal handler, read by the loop and (stop) by the runs. */
static volatile sig_atomic_t d_stop, d_poll, d_reload;
static int d_pipe[2] = { -1, -1 };

struct dacct {
	const struct cfg_account *a;
	struct runopts o;
	int64_t due; /* boot_ms of the next run */
	int64_t backoff; /* seconds of the last delay after a failure */
	int noidle; /* the server cannot IDLE: poll only */
	struct acct w; /* the watcher; w.src is NULL when there is none */
	int64_t w_since; /* when it went into IDLE */
	int64_t w_renew; /* when to renew IDLE */
};

struct daemon {
	struct cfg *cfg;
	char **names;
	int nnames;
	const struct runopts *o;
	struct dacct *acct;
	size_t n;
	int64_t renew_ms;
	int64_t min_ms; /* the first delay after a failure */
	int64_t mono, boot; /* the clocks at the last look */
};

static void
on_signal(int sig)
{
	int e = errno;

	if (sig == SIGTERM || sig == SIGINT)
		d_stop = 1;
	else if (sig == SIGUSR1)
		d_poll = 1;
	else if (sig == SIGHUP)
		d_reload = 1;
	if (d_pipe[1] != -1 && write(d_pipe[1], "x", 1) == -1) {
		/* The pipe is full: the loop wakes up anyway. */
	}
	errno = e;
}

/* Milliseconds on a clock that goes on during a suspend, so that the
 * intervals count the time asleep too. */
static int64_t
boot_ms(void)
{
	struct timespec ts;

#ifdef CLOCK_BOOTTIME
	if (clock_gettime(CLOCK_BOOTTIME, &ts) == 0)
		return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
	return mono_ms();
}

static int
signals_init(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGUSR1, SIGHUP };
	struct sigaction sa;
	size_t i;
	int k, fl;

	if (pipe(d_pipe) == -1)
		return -1;
	for (k = 0; k < 2; k++)
		if ((fl = fcntl(d_pipe[k], F_GETFL)) == -1
		    || fcntl(d_pipe[k], F_SETFL, fl | O_NONBLOCK) == -1
		    || fcntl(d_pipe[k], F_SETFD, FD_CLOEXEC) == -1)
			return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* A run in progress must not see EINTR from file system calls. */
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			return -1;
	return 0;
}

static void
drain_pipe(void)
{
	char buf[64];

	while (read(d_pipe[0], buf, sizeof(buf)) > 0)
		;
}

static int
is_watched(const struct dacct *da)
{
	return acct_ops(da->a)->idle_start != NULL && da->a->idle
	    && !da->noidle;
}

/* End the watcher: politely (DONE, LOGOUT) when polite, else drop it. */
static void
watch_close(struct dacct *da, int polite)
{
	struct source *src = da->w.src;
	int news;

	if (src == NULL)
		return;
	if (polite && src->ops->idle_done(src, &news) == 0)
		src->ops->quit(src);
	acct_fini(&da->w);
}

/* A failed run or watcher: wait longer each time. */
static void
back_off(struct daemon *d, struct dacct *da, int64_t now)
{
	int64_t max = da->a->poll_interval > D_MAXBACKOFF ? da->a->poll_interval
							  : D_MAXBACKOFF;
	char when[32];

	if (da->backoff == 0)
		da->backoff = d->min_ms / 1000;
	else if ((da->backoff *= 2) > max)
		da->backoff = max;
	da->due = now + da->backoff * 1000;
	policy_fmt_duration(da->backoff, when, sizeof(when));
	acct_err(&da->w, "trying again in %s", when);
}

/* The watcher failed: say why, and make the account due, at once when
 * it had been fine for a while, else after the backoff. */
static void
watch_lost(struct daemon *d, struct dacct *da, int64_t now)
{
	acct_err(&da->w, "waiting for mail: %s", da->w.src->err);
	acct_fini(&da->w);
	if (da->backoff == 0 && now - da->w_since >= d->min_ms)
		da->due = now;
	else
		back_off(d, da, now);
}

/* Take what the watcher received; new mail makes the account due. */
static void
watch_read(struct daemon *d, struct dacct *da, int64_t now)
{
	int news;

	if (da->w.src->ops->idle_read(da->w.src, &news) == -1) {
		watch_lost(d, da, now);
		return;
	}
	if (news)
		da->due = now;
}

/* The watcher cannot watch: the account is polled. */
static void
watch_none(struct dacct *da, const char *why)
{
	char every[32];

	da->noidle = 1;
	policy_fmt_duration(da->a->poll_interval, every, sizeof(every));
	acct_info(&da->w, "%s; polling every %s", why, every);
	acct_fini(&da->w);
}

/*
 * The folders to watch: the account's, expanded as a run expands them
 * (mailboxes.c), so that a pattern's mailboxes are watched too. A
 * literal the server lacks is the run's to report. Returns 0, or -1
 * after printing what failed.
 */
static int
watch_folders(struct dacct *da, struct mbx_list *fl)
{
	int st;

	if ((st = mbx_expand(&da->w, fl, 0)) != 0) {
		acct_fini(&da->w);
		return -1;
	}
	return 0;
}

/* NOTIFY for the folders but the first, EXAMINE the first, IDLE. */
static int
watch_start(
    struct daemon *d, struct dacct *da, const struct mbx_list *fl, int64_t now)
{
	const char *folder = fl->name[0];
	struct source *src = da->w.src;
	struct folder_info fi;
	int notify;

	/* With NOTIFY one connection watches every folder; without, the
	 * others are polled. */
	notify = 0;
	if (fl->n > 1) {
		if (src->ops->notify(src, fl->name + 1, fl->n - 1) == 0)
			notify = 1;
		else if (src->fail != SRC_FREFUSED) {
			acct_srcerr(&da->w);
			acct_fini(&da->w);
			return -1;
		} else
			src->fail = SRC_FNONE;
	}
	if (src->ops->select(src, folder, 0, &fi) == -1) {
		acct_srcerr(&da->w);
		acct_fini(&da->w);
		return -1;
	}
	if (src->ops->idle_start(src) == -1) {
		if (src->fail != SRC_FREFUSED) {
			acct_srcerr(&da->w);
			acct_fini(&da->w);
			return -1;
		}
		watch_none(da, src->err);
		return 0;
	}
	da->w_since = now;
	da->w_renew = now + d->renew_ms;
	if (da->o.verbose && notify)
		acct_info(&da->w,
		    "waiting for mail in %s and %zu other folder%s with NOTIFY "
		    "and IDLE",
		    folder, fl->n - 1, fl->n == 2 ? "" : "s");
	else if (da->o.verbose)
		acct_info(&da->w, "waiting for mail in %s with IDLE", folder);
	watch_read(d, da, now);
	return 0;
}

/*
 * Open the watcher: log in, EXAMINE the first folder, IDLE. Returns 0
 * (also when the server cannot IDLE: then the account is polled), or
 * -1 after printing what failed.
 */
static int
watch_open(struct daemon *d, struct dacct *da, int64_t now)
{
	struct mbx_list fl;
	int rv;

	acct_init(&da->w, da->a, &da->o);
	if (acct_open(&da->w) != 0) {
		acct_fini(&da->w);
		return -1;
	}
	/* The login is done: no copy of the secret stays for the hours
	 * the watcher lives. */
	freezero_str(da->w.secret);
	da->w.secret = NULL;
	da->w.sc.secret = NULL;
	(void)src_keepalive(da->w.src, D_KEEPALIVE);
	if (watch_folders(da, &fl) == -1)
		return -1;
	if (fl.n == 0) {
		watch_none(da, "no folder to watch");
		rv = 0;
	} else
		rv = watch_start(d, da, &fl, now);
	mbx_free(&fl);
	return rv;
}

/* Renew IDLE: DONE, NOOP (the server still answers), IDLE. */
static void
watch_renew(struct daemon *d, struct dacct *da, int64_t now)
{
	struct source *src = da->w.src;
	int news = 0;

	if (src->ops->idle_done(src, &news) == -1 || src->ops->noop(src) == -1
	    || src->ops->idle_start(src) == -1) {
		watch_lost(d, da, now);
		return;
	}
	da->w_renew = now + d->renew_ms;
	if (news)
		da->due = now;
	watch_read(d, da, now);
}

static void
run_account(struct daemon *d, struct dacct *da)
{
	int64_t now;
	int st, wfail = 0, lost = 0;

	/*
	 * The watcher first, then the run: mail that comes before the
	 * watcher's EXAMINE is the run's (its SELECT comes later), mail
	 * that comes after it is reported in IDLE, read once the run is
	 * done. The other order leaves a gap, from the run's SELECT to the
	 * EXAMINE, whose mail waits for poll_interval (SPEC "Staying
	 * connected").
	 */
	if (is_watched(da) && da->w.src == NULL) {
		wfail = watch_open(d, da, boot_ms()) == -1;
		lost = !wfail && is_watched(da) && da->w.src == NULL;
	}
	st = run_fetch(da->a, &da->o);
	fflush(stdout);
	now = boot_ms();
	if (d_stop)
		return;
	if (st != 0 || wfail) {
		if (st != 0)
			watch_close(da, 0);
		back_off(d, da, now);
		return;
	}
	/* A watcher lost as it opened: watch_lost said when to retry. */
	if (lost)
		return;
	da->due = now + da->a->poll_interval * 1000;
	da->backoff = 0;
}

static void
accounts_free(struct daemon *d, int polite)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		watch_close(&d->acct[i], polite);
	free(d->acct);
	d->acct = NULL;
	d->n = 0;
}

/* The accounts to serve, from d->cfg: all, or those named. Each is due
 * at once. */
static void
accounts_make(struct daemon *d)
{
	struct dacct *da;
	size_t i;
	int k, named;

	d->acct = xcalloc(d->cfg->nacct, sizeof(*d->acct));
	for (i = 0; i < d->cfg->nacct; i++) {
		named = d->nnames == 0;
		for (k = 0; k < d->nnames && !named; k++)
			named = strcmp(d->names[k], d->cfg->acct[i].name) == 0;
		if (!named)
			continue;
		da = &d->acct[d->n++];
		da->a = &d->cfg->acct[i];
		da->o = *d->o;
		da->o.syslog |= da->a->log_syslog;
		acct_init(&da->w, da->a, &da->o);
		da->due = boot_ms();
	}
}

/* SIGHUP: the new config replaces the old only when it is valid. */
static void
reload(struct daemon *d)
{
	struct cfg *cfg;
	char err[1024];
	int k;

	if ((cfg = cfg_load(d->cfg->path, err, sizeof(err))) == NULL) {
		fprintf(stderr,
		    "mailfetch: %s; the configuration in force stays\n", err);
		return;
	}
	for (k = 0; k < d->nnames; k++)
		if (cfg_find(cfg, d->names[k]) == NULL) {
			fprintf(stderr,
			    "mailfetch: no account \"%s\" in %s any more; "
			    "the configuration in force stays\n",
			    d->names[k], cfg->path);
			cfg_free(cfg);
			return;
		}
	accounts_free(d, 1);
	cfg_free(d->cfg);
	d->cfg = cfg;
	accounts_make(d);
	if (d->o->verbose)
		printf(
		    "mailfetch: configuration read again from %s\n", cfg->path);
}

/*
 * After a suspend the watchers' connections may be dead: renew them now,
 * which finds out within the timeout. An account waiting out the delay
 * after a failure is tried now too, as the network may be another one;
 * should it fail again, the delay goes on growing.
 */
static void
woke_up(struct daemon *d, int64_t now, int64_t asleep)
{
	char how[32];
	size_t i;

	if (d->o->verbose) {
		policy_fmt_duration((asleep + 500) / 1000, how, sizeof(how));
		printf("mailfetch: the system was asleep for %s: checking the "
		       "connections\n",
		    how);
	}
	for (i = 0; i < d->n; i++) {
		d->acct[i].w_renew = now;
		if (d->acct[i].backoff != 0 && d->acct[i].due > now)
			d->acct[i].due = now;
	}
}

/* A suspend shows as CLOCK_BOOTTIME running ahead of CLOCK_MONOTONIC. */
static void
look_at_clocks(struct daemon *d)
{
	int64_t mono = mono_ms(), boot = boot_ms();
	int64_t asleep = (boot - d->boot) - (mono - d->mono);

	if (asleep > D_SUSPEND_MS)
		woke_up(d, boot, asleep);
	d->mono = mono;
	d->boot = boot;
}

/* Milliseconds poll(2) may wait: until the next thing to do. */
static int
next_wait(const struct daemon *d, int64_t now)
{
	int64_t t = now + D_WAKE_MS;
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (d->acct[i].due < t)
			t = d->acct[i].due;
		if (d->acct[i].w.src != NULL && d->acct[i].w_renew < t)
			t = d->acct[i].w_renew;
	}
	return t <= now ? 0 : (int)(t - now);
}

static void
serve(struct daemon *d)
{
	struct pollfd *pfd = NULL;
	struct dacct **who = NULL;
	size_t i, np;
	int64_t now;

	while (!d_stop) {
		if (d_reload) {
			d_reload = 0;
			reload(d);
		}
		look_at_clocks(d);
		now = boot_ms();
		if (d_poll) {
			d_poll = 0;
			for (i = 0; i < d->n; i++)
				d->acct[i].due = now;
		}
		for (i = 0; i < d->n && !d_stop && !d_reload; i++) {
			if (d->acct[i].due <= now) {
				run_account(d, &d->acct[i]);
				now = boot_ms();
			}
			if (d->acct[i].w.src != NULL
			    && d->acct[i].w_renew <= now)
				watch_renew(d, &d->acct[i], now);
		}
		if (d_stop || d_reload)
			continue;
		pfd = xreallocarray(pfd, d->n + 1, sizeof(*pfd));
		who = xreallocarray(who, d->n + 1, sizeof(*who));
		pfd[0].fd = d_pipe[0];
		pfd[0].events = POLLIN;
		for (i = 0, np = 1; i < d->n; i++) {
			if (d->acct[i].w.src == NULL)
				continue;
			pfd[np].fd = src_fd(d->acct[i].w.src);
			pfd[np].events = POLLIN;
			who[np++] = &d->acct[i];
		}
		fflush(stdout);
		fflush(stderr);
		if (poll(pfd, np, next_wait(d, boot_ms())) == -1) {
			if (errno == EINTR)
				continue;
			perror("mailfetch: poll");
			break;
		}
		if (pfd[0].revents)
			drain_pipe();
		now = boot_ms();
		for (i = 1; i < np; i++)
			if (pfd[i].revents && who[i]->w.src != NULL)
				watch_read(d, who[i], now);
	}
	free(pfd);
	free(who);
}

static int64_t
env_seconds(const char *name, int64_t dflt)
{
	const char *e = getenv(name);
	char *end;
	long v;

	if (e == NULL)
		return dflt;
	errno = 0;
	v = strtol(e, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > dflt)
		return dflt;
	return v;
}

int
daemon_main(struct cfg *cfg, char **names, int nnames, const struct runopts *o)
{
	struct runopts oo = *o;
	struct daemon d;

	memset(&d, 0, sizeof(d));
	oo.daemon = 1;
	oo.progress = 0;
	oo.stop = &d_stop;
	d.cfg = cfg;
	d.names = names;
	d.nnames = nnames;
	d.o = &oo;
	/* Testing aids, see mailfetch(1): shorter IDLE and retry times. */
	d.renew_ms = env_seconds("MAILFETCH_IDLE_RENEW", D_RENEW) * 1000;
	d.min_ms = cfg_min_interval() * 1000;
	d.mono = mono_ms();
	d.boot = boot_ms();
	if (signals_init() == -1) {
		fprintf(stderr, "mailfetch: cannot set up signals: %s\n",
		    strerror(errno));
		cfg_free(cfg);
		return EX_OSERR;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	accounts_make(&d);
	serve(&d);
	accounts_free(&d, 1);
	cfg_free(d.cfg);
	fflush(stdout);
	return 0;
}
