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
#include <stdint.h>

#include "buf.h"

struct store;

/* User metadata of an object (x-amz-meta-NAME: VALUE), and its size. */
#define STORE_META_MAX 16
struct store_meta_entry {
	char *name;    /* lowercase, without "x-amz-meta-" */
	char *value;
};
struct store_object_info {
	uint64_t size;                                 /* bytes of the object */
	int64_t mtime;                                 /* epoch seconds it was written */
	struct store_meta_entry meta[STORE_META_MAX];
	size_t n_meta;
};
void store_object_info_release(struct store_object_info *info);
/* The value of metadata name, or NULL. */
const char *store_meta_get(const struct store_object_info *info, const char *name);

/* One level of a listing, as S3's ListObjects with a delimiter '/' gives it:
 * the keys directly under prefix and the common prefixes below it. */
struct store_listing {
	char **keys;          /* full keys, sorted */
	size_t n_keys;
	char **prefixes;      /* full common prefixes ending in '/', sorted */
	size_t n_prefixes;
};
void store_listing_release(struct store_listing *l);

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
	/* Write an object with its metadata, atomically and durably: after a
	 * crash the key holds the old object, the new one, or nothing, never a
	 * part.  Overwriting is allowed.  Keys are checked: 1-1024 bytes, no
	 * leading '/', no empty, "." or ".." segments, no control bytes
	 * (-EINVAL).  -ENOENT when the bucket does not exist. */
	int (*object_put)(struct store *s, const char *bucket, const char *key,
			  const void *data, size_t len, const struct store_object_info *info);
	/* Append the object's bytes to out and fill info (may be NULL).
	 * -ENOENT when the bucket or key does not exist. */
	int (*object_get)(struct store *s, const char *bucket, const char *key,
			  struct buf *out, struct store_object_info *info);
	/* Fill info without reading the object.  -ENOENT as above. */
	int (*object_head)(struct store *s, const char *bucket, const char *key,
			   struct store_object_info *info);
	/* One level under prefix ("" or ending in '/'): see store_listing. */
	int (*object_list)(struct store *s, const char *bucket, const char *prefix,
			   struct store_listing *out);
	/* Delete an object (0 also when it did not exist). */
	int (*object_delete)(struct store *s, const char *bucket, const char *key);
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
