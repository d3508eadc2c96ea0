/*
 * The account's secret: from the config, or from password_command run
 * through /bin/sh -c with standard input from /dev/null, its first line
 * taken. The command gets the same time limit as a server read; past it
 * it is killed. See secret.h.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

static char *
run_command(const char *cmd, int timeout, char *err, size_t errlen)
{
	char buf[SECRET_MAX];
	char *nl, *secret = NULL;
	int fds[2], status, devnull;
	ssize_t len;
	pid_t pid;

	if (pipe(fds) == -1) {
		snprintf(
		    err, errlen, "password_command: pipe: %s", strerror(errno));
		return NULL;
	}
	if ((pid = fork()) == -1) {
		snprintf(
		    err, errlen, "password_command: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (pid == 0) {
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	len = read_output(
	    fds[0], buf, sizeof(buf) - 1, mono_ms() + (int64_t)timeout * 1000);
	close(fds[0]);
	if (len == -1)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (len == -1) {
		snprintf(err, errlen,
		    "password_command \"%s\" did not finish within %d seconds",
		    cmd, timeout);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFEXITED(status))
			snprintf(err, errlen,
			    "password_command \"%s\" exited with status %d",
			    cmd, WEXITSTATUS(status));
		else
			snprintf(err, errlen,
			    "password_command \"%s\" was killed by signal %d",
			    cmd, WTERMSIG(status));
		goto out;
	}
	buf[len] = '\0';
	if ((nl = strchr(buf, '\n')) != NULL)
		*nl = '\0';
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len == 0) {
		snprintf(err, errlen,
		    "password_command \"%s\" printed no password", cmd);
		goto out;
	}
	secret = xstrdup(buf);
out:
	explicit_bzero(buf, sizeof(buf));
	return secret;
}

char *
secret_get(const struct cfg_account *a, int timeout, char *err, size_t errlen)
{
	if (a->password != NULL)
		return xstrdup(a->password);
	if (a->password_command != NULL)
		return run_command(a->password_command, timeout, err, errlen);
	snprintf(err, errlen, "no password or password_command is set");
	return NULL;
}
