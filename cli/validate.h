/* `trailfs validate`: the aws CLI's validate-logs over a trailfs mount or a
 * local object store, with no network.  No FUSE here: fs/main.c only
 * dispatches to validate_main when argv[1] is "validate". */
#ifndef TRAILFS_CLI_VALIDATE_H
#define TRAILFS_CLI_VALIDATE_H

#include "verify.h"

/* Run the command; argv[0] is "validate".  Returns the exit code: 0 all
 * valid, 1 something INVALID, 255 a fatal error (as the aws CLI), 2 a
 * usage error. */
int validate_main(int argc, char **argv);

/* A source over a trailfs mount (the views trails/NAME/digests/ and
 * trails/NAME/raw/, see validate_mount.c) for the trail whose digests and
 * logs live under bucket and prefix.  All strings are copied.  0 or
 * -ENOMEM. */
int validate_mount_source(const char *mnt, const char *trail, const char *bucket,
			  const char *prefix, const char *account, struct verify_source *out);

/* The public keys the mount lists for region: public-keys/REGION/keys.json
 * (a ListPublicKeys response of all the region's keys), or when there is
 * none, the region's FINGERPRINT.pem files (without windows).  A region
 * without keys adds nothing. */
int validate_mount_keys(const char *mnt, const char *region, struct verify_keys *ks);

#endif
