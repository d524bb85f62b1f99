/* The settings files of a trail directory and of a bucket directory: their
 * text forms, over the CloudTrail and S3 calls of ct.h.
 *
 * Reading gives the normalised value and a newline.  Writing follows the
 * tree's rules: settings_check runs on what has arrived so far (in write()),
 * so that `echo bad > setting` fails where the shell sees it; settings_apply
 * runs at close on the whole value and makes the change. */
#ifndef TRAILFS_SETTINGS_H
#define TRAILFS_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "ct.h"

enum setting_access { SETTING_NONE = 0, SETTING_RO, SETTING_RW };

/* Is name a file of a trail directory, and may it be written? */
enum setting_access settings_trail_file(const char *name);
/* The trail directory's files, in listing order; NULL-terminated, static. */
const char *const *settings_trail_files(void);

/* The bucket directory's one file. */
#define SETTINGS_BUCKET_POLICY "policy.json"

/* Append the file's content to out.  trail must exist (TrailNotFound). */
int settings_read(struct ct *ct, const struct ct_caller *who, const char *trail,
		  const char *file, struct buf *out, struct ct_err *err);

/* Check what has arrived so far.  A value that is complete as it stands
 * (ends in a newline, or is a whole JSON document) gets every check; one
 * that may still be growing fails only for faults no continuation could
 * repair.  0 or -errno with err filled. */
int settings_check(struct ct *ct, const struct ct_caller *who, const char *trail,
		   const char *file, const char *text, size_t len, struct ct_err *err);

/* Apply the whole value: the API call(s) the file stands for. */
int settings_apply(struct ct *ct, const struct ct_caller *who, const char *trail,
		   const char *file, const char *text, size_t len, struct ct_err *err);

/* The same pair for a bucket's policy.json (PutBucketPolicy / DeleteBucketPolicy). */
int settings_bucket_read(struct ct *ct, const struct ct_caller *who, const char *bucket,
			 struct buf *out, struct ct_err *err);
int settings_bucket_check(struct ct *ct, const struct ct_caller *who, const char *bucket,
			  const char *text, size_t len, struct ct_err *err);
int settings_bucket_apply(struct ct *ct, const struct ct_caller *who, const char *bucket,
			  const char *text, size_t len, struct ct_err *err);

/* A key directory's files (keys/NAME/, settings_keys.c): id and arn
 * (read-only: DescribeKey), state (DescribeKey; writing Enabled is
 * EnableKey, Disabled DisableKey or, for a key pending deletion,
 * CancelKeyDeletion), policy.json (GetKeyPolicy / PutKeyPolicy).  state
 * reads "Enabled", "Disabled", or "PendingDeletion" and on a second line
 * the deletion date (ISO 8601 UTC). */
#define SETTINGS_KEY_POLICY "policy.json"
enum setting_access settings_key_file(const char *name);
/* The key directory's files, in listing order; NULL-terminated, static. */
const char *const *settings_key_files(void);
int settings_key_read(struct ct *ct, const struct ct_caller *who, const char *key,
		      const char *file, struct buf *out, struct ct_err *err);
/* As settings_check: a value that may still grow fails only for faults no
 * continuation could repair (policy.json: a document that parses is checked
 * whole; one that does not yet parse must at least start with '{'). */
int settings_key_check(struct ct *ct, const struct ct_caller *who, const char *key,
		       const char *file, const char *text, size_t len, struct ct_err *err);
int settings_key_apply(struct ct *ct, const struct ct_caller *who, const char *key,
		       const char *file, const char *text, size_t len, struct ct_err *err);

#endif
