/*
 * The account's secret: the password from the config, or the first line
 * that password_command prints (a password, or an OAuth access token).
 */
#ifndef SECRET_H
#define SECRET_H

#include <stddef.h>

#include "config.h"

/*
 * Return the secret as a new string (free it with freezero_str), or NULL
 * with a message in err and an exit status in *status: EX_TEMPFAIL when
 * the command did not print and exit within timeout seconds (its process
 * group is then killed), else EX_CONFIG (it failed to run, exited
 * non-zero or printed nothing). The message names the command but never
 * includes its output.
 */
char *secret_get(const struct cfg_account *, int timeout, int *status,
    char *err, size_t errlen);

#endif
