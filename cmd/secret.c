/*
 * The account's secret: from the config, or from password_command run
 * through /bin/sh -c with standard input from /dev/null, its first line
 * taken. The command gets the account's timeout to print and exit; past
 * it its process group is killed. See secret.h.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

#include "../tls/util.h"
#include "secret.h"

#define SECRET_MAX 8192

/* Read the command's output into buf until EOF, a full buffer or the
 * deadline. Returns the length, or -1 on timeout or read error. */
static ssize_t
read_output(int fd, char *buf, size_t size, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;
	int ready;

	while (len < size) {
		int64_t left = deadline - mono_ms();

		if (left <= 0)
			return -1;
		if ((ready = poll(&pfd, 1, (int)left)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Nothing yet: a read now would block past the deadline. */
		if (ready == 0)
			continue;
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	return len;
}

/*
 * Wait until pid has ended or the deadline passed: 0 or -1. It is left
 * unreaped (WNOWAIT), so that its process ID, which names its process
 * group, cannot be reused before the group is killed. A child that
 * closed its output may still run: the wait is a poll, so it too ends at
 * the deadline.
 */
static int
wait_until(pid_t pid, int64_t deadline)
{
	siginfo_t si;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0
		    && si.si_pid == pid)
			return 0;
		if (mono_ms() >= deadline)
			return -1;
		poll(NULL, 0, 10);
	}
}

/*
 * Reap the command, and end what is left of its process group: a
 * background job that kept the run's stderr open must not outlive it.
 * When the command itself has not ended (timedout), it gets SIGTERM and
 * a second's grace first.
 */
static void
end_group(pid_t pid, int timedout, int *ws)
{
	if (timedout) {
		kill(-pid, SIGTERM);
		wait_until(pid, mono_ms() + 1000);
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, ws, 0) == -1 && errno == EINTR)
		;
}

/*
 * The command runs in a process group of its own, so that a timeout can
 * kill all it started. Run from a terminal, that group is a background
 * one, and a command that asks on /dev/tty (age -d, bw get, read
 * </dev/tty) would be stopped by SIGTTIN until the timeout. So when
 * mailfetch is the terminal's foreground job (stdin the terminal, as
 * never for the daemon), the command's group is made the foreground
 * for its run, and ours again after it: the group, and with it the
 * timeout's kill, stays. SIGTTOU is blocked meanwhile, since
 * tcsetpgrp from a background group raises it. Both sides set it (as
 * with setpgid), so that the command cannot read before it is done.
 * Returns 1 when the terminal was handed over to pgrp.
 */
static int
tty_give(pid_t pgrp, sigset_t *saved)
{
	sigset_t ttou;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, saved);
	if (tcsetpgrp(STDIN_FILENO, pgrp) == -1) {
		sigprocmask(SIG_SETMASK, saved, NULL);
		return 0;
	}
	return 1;
}

static void
tty_take_back(int given, const sigset_t *saved)
{
	if (!given)
		return;
	(void)tcsetpgrp(STDIN_FILENO, getpgrp());
	sigprocmask(SIG_SETMASK, saved, NULL);
}

/* Take the first line of buf[0..len-1], without CR LF, as the secret. */
static char *
first_line(char *buf, size_t len)
{
	char *nl;

	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return len > 0 ? xstrdup(buf) : NULL;
}

/*
 * Run cmd in a process group of its own. It has timeout seconds to print
 * and exit, together; past them the group is killed and *status is
 * EX_TEMPFAIL. Whatever the outcome, what is left of its group is killed
 * once the command is done.
 */
static char *
run_command(const char *cmd, int timeout, int *status, char *err, size_t errlen)
{
	char buf[SECRET_MAX];
	char *secret = NULL;
	int fds[2], ws, devnull, fg, given, done = -1;
	sigset_t saved;
	int64_t deadline = mono_ms() + (int64_t)timeout * 1000;
	ssize_t len;
	pid_t pid;

	*status = EX_CONFIG;
	if (pipe(fds) == -1) {
		snprintf(
		    err, errlen, "password_command: pipe: %s", strerror(errno));
		return NULL;
	}
	fg = isatty(STDIN_FILENO) && tcgetpgrp(STDIN_FILENO) == getpgrp();
	if ((pid = fork()) == -1) {
		snprintf(
		    err, errlen, "password_command: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (fg && tty_give(getpid(), &saved))
			sigprocmask(SIG_SETMASK, &saved, NULL);
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Both sides set the group, so that a kill finds it either way. */
	setpgid(pid, pid);
	given = fg && tty_give(pid, &saved);
	close(fds[1]);
	len = read_output(fds[0], buf, sizeof(buf) - 1, deadline);
	close(fds[0]);
	if (len != -1)
		done = wait_until(pid, deadline);
	end_group(pid, done == -1, &ws);
	tty_take_back(given, &saved);
	if (done == -1) {
		*status = EX_TEMPFAIL;
		snprintf(err, errlen,
		    "password_command \"%s\" did not finish within %d seconds; "
		    "check that it exits after printing (timeout)",
		    cmd, timeout);
		goto out;
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
		if (WIFEXITED(ws))
			snprintf(err, errlen,
			    "password_command \"%s\" exited with status %d",
			    cmd, WEXITSTATUS(ws));
		else
			snprintf(err, errlen,
			    "password_command \"%s\" was killed by signal %d",
			    cmd, WTERMSIG(ws));
		goto out;
	}
	if ((secret = first_line(buf, len)) == NULL)
		snprintf(err, errlen,
		    "password_command \"%s\" printed no password", cmd);
out:
	explicit_bzero(buf, sizeof(buf));
	return secret;
}

char *
secret_get(const struct cfg_account *a, int timeout, int *status, char *err,
    size_t errlen)
{
	*status = EX_CONFIG;
	if (a->password != NULL)
		return xstrdup(a->password);
	if (a->password_command != NULL)
		return run_command(
		    a->password_command, timeout, status, err, errlen);
	snprintf(err, errlen, "no password or password_command is set");
	return NULL;
}
