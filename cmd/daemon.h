/*
 * --daemon: run the accounts again and again, waiting for mail with IMAP
 * IDLE where it can and polling where it cannot, until SIGTERM or SIGINT.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include "account.h"
#include "config.h"

/*
 * Serve the accounts of cfg named in names[0..nnames-1] (all of them
 * when nnames is 0) until SIGTERM or SIGINT; SIGUSR1 polls every account
 * at once, SIGHUP reads cfg->path again (an invalid file is reported
 * and the old config stays). Takes cfg over and frees it. Prints what
 * happens; returns the exit status (0 after a signal to stop).
 */
int daemon_main(
    struct cfg *cfg, char **names, int nnames, const struct runopts *o);

#endif
