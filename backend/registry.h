/* The trail registry on disk: STATE/registry.json, one JSON document
 *   {"format": 1, "account": "123456789012", "trails": [ ...state json... ]}
 * written atomically and durably on every change.  A damaged file or a newer
 * format is reported with its path, never silently reset. */
#ifndef TRAILFS_REGISTRY_H
#define TRAILFS_REGISTRY_H

#include <stddef.h>

#include "err.h"
#include "trail.h"

/* Load path.  On success *trails is a malloc'd array of n trails (release
 * each, then free) and account holds the account id.  -ENOENT when the file
 * does not exist (a new state directory); other failures fill err
 * (InvalidStateFile) with the path and what is wrong. */
int registry_load(const char *path, char account[CT_ACCOUNT_LEN + 1],
		  struct trail **trails, size_t *n, struct ct_err *err);

/* Write the registry durably.  0 or -errno (err filled). */
int registry_save(const char *path, const char *account,
		  const struct trail *trails, size_t n, struct ct_err *err);

#endif
