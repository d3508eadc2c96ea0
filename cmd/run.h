/*
 * The run of one account: fetch (or print the plan of a dry run), or
 * test its settings (--check).
 */
#ifndef RUN_H
#define RUN_H

#include "account.h"
#include "config.h"

/* Fetch the account's new mail into its Maildir and apply the policy,
 * or with o->dryrun print the plan. Prints the summary line and any
 * errors. Returns 0 or the exit status of the first failure. */
int run_fetch(const struct cfg_account *, const struct runopts *);

/* Test the account's settings and print what was found (--check).
 * Changes nothing. Returns 0 or an exit status. */
int run_check(const struct cfg_account *, const struct runopts *);

#endif
