/* Object stores: where buckets live.  A small table of operations, in the
 * manner of curl's vtls, so that the local directory store and the S3 store
 * (a later issue) are interchangeable behind struct store.
 *
 * All operations return 0 or a negative errno.  Bucket names reaching a store
 * have been validated by the caller (validate_bucket_name_s3), so they never
 * contain '/', "..", or control bytes; stores check again anyway and refuse
 * with -EINVAL, because a name must never become a path unchecked. */
#ifndef TRAILFS_STORE_H
#define TRAILFS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct store;

struct store_ops {
	const char *kind;   /* "local", "s3" */
	/* Create an empty bucket without a policy.  -EEXIST if it exists. */
	int (*bucket_create)(struct store *s, const char *bucket);
	/* Delete an empty bucket.  -ENOENT, -ENOTEMPTY (objects in it). */
	int (*bucket_delete)(struct store *s, const char *bucket);
	/* 0 when the bucket exists, -ENOENT when not, or another -errno. */
	int (*bucket_exists)(struct store *s, const char *bucket);
	/* All bucket names, sorted; *names is a malloc'd array of malloc'd
	 * strings (free with store_names_free). */
	int (*bucket_list)(struct store *s, char ***names, size_t *n);
	/* Append the bucket's policy to out.  -ENOENT when the bucket does not
	 * exist, -ENODATA when it has no policy. */
	int (*policy_get)(struct store *s, const char *bucket, struct buf *out);
	/* Store a policy document (already validated), durably. */
	int (*policy_put)(struct store *s, const char *bucket, const char *doc, size_t len);
	/* Remove the policy; 0 also when there was none. */
	int (*policy_delete)(struct store *s, const char *bucket);
	void (*free)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* A store in a local directory, created if missing (mode 0700).
 * Layout: DIR/BUCKET/ holds the bucket's objects under their keys;
 * DIR/.meta/BUCKET/ holds what S3 keeps beside them (policy.json).  Bucket
 * names cannot begin with '.', so ".meta" never collides with a bucket.
 * Returns NULL with *errp set on failure. */
struct store *store_local_new(const char *dir, int *errp);

void store_names_free(char **names, size_t n);

static inline void store_free(struct store *s)
{
	if (s)
		s->ops->free(s);
}

#endif
