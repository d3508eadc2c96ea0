/*
 * The on_new hook. See hook.h. The command gets a process group of its
 * own so that a timeout kills whatever it started, not only the shell.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tls/util.h"
#include "hook.h"

extern char **environ;

/* The environment of the command: ours, with the three variables set
 * (any old values of them dropped). Built before fork, so that the
 * child only calls what is safe after a fork. */
static char **
hook_env(const struct cfg_account *a, uint64_t fetched, char **vars)
{
	size_t n = 0, k = 0, i;
	char **env;

	xasprintf(&vars[0], "MAILFETCH_ACCOUNT=%s", a->name);
	xasprintf(&vars[1], "MAILFETCH_FETCHED=%" PRIu64, fetched);
	xasprintf(&vars[2], "MAILFETCH_MAILDIR=%s", a->maildir);
	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 4, sizeof(*env));
	for (i = 0; i < n; i++)
		if (strncmp(environ[i], "MAILFETCH_ACCOUNT=", 18) != 0
		    && strncmp(environ[i], "MAILFETCH_FETCHED=", 18) != 0
		    && strncmp(environ[i], "MAILFETCH_MAILDIR=", 18) != 0)
			env[k++] = environ[i];
	for (i = 0; i < 3; i++)
		env[k++] = vars[i];
	return env;
}

/* The child: its own process group, /dev/null in, a clean signal
 * state, then the shell. Never returns. */
static void
hook_child(const char *cmd, char **env)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	sigset_t none;
	int fd;

	setpgid(0, 0);
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, STDIN_FILENO);
		if (fd != STDIN_FILENO)
			close(fd);
	}
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve("/bin/sh", argv, env);
	_exit(127);
}

/* Wait for pid until the deadline (mono_ms); 0 with *status once it
 * ended, 1 at the deadline. */
static int
hook_wait(pid_t pid, int *status, int64_t deadline)
{
	struct timespec ts;
	int64_t step = 1, left;
	pid_t r;

	for (;;) {
		if ((r = waitpid(pid, status, WNOHANG)) == pid)
			return 0;
		if (r == -1 && errno != EINTR)
			return 0; /* gone: nothing left to wait for */
		if ((left = deadline - mono_ms()) <= 0)
			return 1;
		/* A short command is seen at once; a long one is looked at
		 * twenty times a second. */
		if (step > left)
			step = left;
		ts.tv_sec = step / 1000;
		ts.tv_nsec = (long)(step % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		if (step < 50)
			step *= 2;
	}
}

int
hook_run(
    const struct cfg_account *a, uint64_t fetched, char *err, size_t errlen)
{
	char *vars[3], **env;
	int status = 0, i;
	pid_t pid;

	env = hook_env(a, fetched, vars);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0)
		hook_child(a->on_new, env);
	for (i = 0; i < 3; i++)
		free(vars[i]);
	free(env);
	if (pid == -1) {
		snprintf(err, errlen, "on_new: cannot start \"%s\": %s",
		    a->on_new, strerror(errno));
		return -1;
	}
	/* Both sides set the group, so a kill cannot come before it. */
	setpgid(pid, pid);
	if (hook_wait(pid, &status, mono_ms() + (int64_t)a->timeout * 1000)
	    == 1) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		snprintf(err, errlen,
		    "on_new command \"%s\" did not finish within %d seconds "
		    "and was killed",
		    a->on_new, a->timeout);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		snprintf(err, errlen,
		    "on_new command \"%s\" exited with status %d", a->on_new,
		    WEXITSTATUS(status));
	else
		snprintf(err, errlen,
		    "on_new command \"%s\" was killed by signal %d", a->on_new,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}
