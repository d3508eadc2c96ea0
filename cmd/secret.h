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
 * with a message in err: the command failed to run, timed out, exited
 * non-zero or printed nothing. The message names the command but never
 * includes its output. timeout is in seconds.
 */
char *secret_get(
    const struct cfg_account *, int timeout, char *err, size_t errlen);

#endif
