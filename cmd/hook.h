/*
 * The on_new hook: a shell command run after an account's run that
 * delivered mail.
 */
#ifndef HOOK_H
#define HOOK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Run a->on_new through /bin/sh -c in a process group of its own, with
 * standard input from /dev/null and MAILFETCH_ACCOUNT, MAILFETCH_FETCHED
 * (fetched) and MAILFETCH_MAILDIR in its environment; its output goes
 * where mailfetch's goes. Waits for it at most a->timeout seconds, then
 * kills its process group. Returns 0 when it exited with status 0, else
 * -1 with what happened in err (the command named, nothing it printed).
 */
int hook_run(
    const struct cfg_account *a, uint64_t fetched, char *err, size_t errlen);

#endif
