/* Validators for every name and value CloudTrail checks, with AWS's error
 * names.  Each returns 0 when the value is acceptable, or a negative errno
 * with err (which may be NULL) holding the AWS error name and a message that
 * says what was wrong and what would be right.
 *
 * VF_PARTIAL: the value may still be growing (a setting written in several
 * pieces).  Rules that more characters could satisfy (minimum length, the
 * last character, an enum that the value is a prefix of) are not applied;
 * rules that no continuation can repair (a bad character, too long, a bad
 * first character, adjacent punctuation) still are. */
#ifndef TRAILFS_VALIDATE_H
#define TRAILFS_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "trail.h"

#define VF_PARTIAL 1u

/* Trail names: 3-128 of [A-Za-z0-9._-], first and last alphanumeric, no two
 * adjacent punctuation characters, not shaped like an IPv4 address.
 * InvalidTrailNameException. */
int validate_trail_name(const char *s, unsigned flags, struct ct_err *err);

/* Bucket names by S3's general-purpose rules (3-63 of [a-z0-9.-], first and
 * last alphanumeric, no "..", not IP-like, the reserved prefixes xn--,
 * sthree-, amzn-s3-demo- and suffixes -s3alias, --ol-s3, .mrap, --x-s3,
 * --table-s3).  S3's own error: InvalidBucketName. */
int validate_bucket_name_s3(const char *s, unsigned flags, struct ct_err *err);

/* S3's rules plus CloudTrail's stricter copy: each dot-separated label starts
 * with a lowercase letter or digit, no '-' beside '.', no trailing '-'.
 * InvalidS3BucketNameException. */
int validate_bucket_name_cloudtrail(const char *s, unsigned flags, struct ct_err *err);

/* S3 key prefix: "" allowed; at most 200 bytes; no leading or trailing '/',
 * no empty, "." or ".." segments; no control bytes (0x00-0x1f, 0x7f); valid
 * UTF-8.  InvalidS3PrefixException. */
int validate_s3_prefix(const char *s, unsigned flags, struct ct_err *err);

/* KmsKeyId forms: "alias/NAME" (NAME 1-256 of [A-Za-z0-9/_-], not starting
 * with "aws"), alias ARN arn:aws:kms:REGION:ACCOUNT:alias/NAME, key ARN
 * arn:aws:kms:REGION:ACCOUNT:key/UUID, or a bare key id (UUID, lowercase hex
 * 8-4-4-4-12; multi-Region keys "mrk-" + 32 hex also accepted).
 * InvalidKmsKeyIdException. */
int validate_kms_key_id(const char *s, unsigned flags, struct ct_err *err);

/* SNS topic: a name (1-256 of [A-Za-z0-9_-], optionally ending ".fifo") or
 * an ARN arn:aws:sns:REGION:ACCOUNT:NAME.  InvalidSnsTopicNameException. */
int validate_sns_topic(const char *s, unsigned flags, struct ct_err *err);

/* CloudWatch Logs group name: 1-512 of [A-Za-z0-9_./#-].
 * InvalidCloudWatchLogsLogGroupArnException. */
int validate_log_group_name(const char *s, unsigned flags, struct ct_err *err);
/* arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*] with a valid NAME; when
 * name_out is not NULL the group name is copied there (size >= CT_LOG_GROUP_MAX+1).
 * InvalidCloudWatchLogsLogGroupArnException. */
int validate_log_group_arn(const char *s, char *name_out, struct ct_err *err);
/* arn:aws:iam::ACCOUNT:role/PATH/NAME.  InvalidCloudWatchLogsRoleArnException. */
int validate_log_role_arn(const char *s, struct ct_err *err);

/* Tag key 1-128 characters, value 0-256 characters (counted in code points),
 * valid UTF-8, printable: ASCII letters, digits, space and _ . : / = + - @,
 * and any non-ASCII character; the key may not begin with "aws:".
 * InvalidTagParameterException. */
int validate_tag(const char *key, const char *value, struct ct_err *err);

/* One data resource value of a basic selector, with its type:
 *   AWS::S3::Object        "arn:aws:s3" (all buckets) or
 *                          "arn:aws:s3:::BUCKET/" "arn:aws:s3:::BUCKET/PREFIX"
 *                          (BUCKET by S3's rules, PREFIX without control bytes)
 *   AWS::Lambda::Function  "arn:aws:lambda" or arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
 *   AWS::DynamoDB::Table   "arn:aws:dynamodb" or arn:aws:dynamodb:REGION:ACCOUNT:table/NAME
 * At most CT_DATA_VALUE_MAX bytes.  InvalidEventSelectorsException. */
int validate_data_resource(const char *type, const char *value, struct ct_err *err);
/* True for the "all resources of this type" values (arn:aws:s3, arn:aws:lambda,
 * arn:aws:dynamodb), which do not count toward the 250-resource limit. */
bool data_resource_is_all(const char *value);

/* One line of the data_events file: "RESOURCE [All|ReadOnly|WriteOnly]"
 * where RESOURCE is BUCKET, BUCKET/PREFIX, or a full ARN as above; the
 * read/write type defaults to All.  BUCKET and "arn:aws:s3:::BUCKET" are
 * normalised to "arn:aws:s3:::BUCKET/".  On success *type_out and *value_out
 * are malloc'd (the caller frees them).  InvalidEventSelectorsException. */
int parse_data_events_line(const char *line, char **type_out, char **value_out,
			   enum rw_type *rw_out, struct ct_err *err);

/* Region names: lowercase, shaped like "us-east-1" (letters and hyphens, then
 * a hyphen and digits).  Returns true when well-formed. */
bool region_name_valid(const char *s);
/* Account ids: exactly 12 digits. */
bool account_id_valid(const char *s);
/* IPv4 dotted-quad shape (four groups of 1-3 digits). */
bool looks_like_ipv4(const char *s);

#endif
