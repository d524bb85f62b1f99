/* IAM policy documents for buckets: the grammar check a PutBucketPolicy
 * makes, the policy CloudTrail's console writes for a trail, and the
 * evaluation CreateTrail/UpdateTrail make of an existing bucket's policy. */
#ifndef TRAILFS_POLICY_H
#define TRAILFS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Check len bytes as a bucket policy for bucket: valid JSON (UTF-8, at most
 * CT_POLICY_MAX bytes) of the IAM policy grammar:
 *   top level: Version ("2012-10-17" or "2008-10-17", optional), Id (string,
 *   optional), Statement (required; an object or a non-empty array of them);
 *   no other members.
 *   statement: Sid (optional string of [A-Za-z0-9]), Effect ("Allow"|"Deny"),
 *   exactly one of Principal/NotPrincipal ("*" or an object whose members are
 *   AWS, Service, Federated or CanonicalUser, each a string or non-empty
 *   array of strings), exactly one of Action/NotAction (a string or non-empty
 *   array of "*" or "service:Action" patterns), exactly one of
 *   Resource/NotResource (strings or arrays; each "*" or an ARN
 *   arn:aws:s3:::BUCKET or arn:aws:s3:::BUCKET/... naming this bucket,
 *   wildcards allowed), Condition (optional: operator -> {key -> string,
 *   bool, number or non-empty array of them}); no other members.
 * partial: the document may be incomplete (more bytes may follow); only
 * errors that no continuation could repair are reported.
 * S3's error: MalformedPolicy (EINVAL), with a message naming the member. */
int policy_validate(const char *doc, size_t len, const char *bucket, bool partial,
		    struct ct_err *err);

/* The bucket policy CloudTrail's console writes for a new bucket
 * (reference §8): AWSCloudTrailAclCheck20150319 (s3:GetBucketAcl on the
 * bucket) and AWSCloudTrailWrite20150319 (s3:PutObject on
 * arn:aws:s3:::BUCKET/[PREFIX/]AWSLogs/ACCOUNT/ (every key under it), with s3:x-amz-acl =
 * bucket-owner-full-control), both conditioned on aws:SourceArn = trail_arn.
 * prefix may be "" (no prefix).  Appends pretty JSON to out.  0 or -errno. */
int policy_for_cloudtrail(const char *bucket, const char *prefix, const char *account,
			  const char *trail_arn, struct buf *out);

/* Does the policy let CloudTrail deliver trail_arn's files to bucket under
 * [PREFIX/]AWSLogs/ACCOUNT/?  Evaluated as IAM evaluates a request from the
 * service principal cloudtrail.amazonaws.com, for two requests:
 *   s3:GetBucketAcl on arn:aws:s3:::BUCKET, and
 *   s3:PutObject on a log file key and on a digest file key under the prefix
 *   (AWSLogs/ACCOUNT/CloudTrail/REGION/... and .../CloudTrail-Digest/...),
 * with the request context aws:SourceArn = trail_arn, aws:SourceAccount =
 * account, s3:x-amz-acl = bucket-owner-full-control, aws:SecureTransport =
 * true, aws:PrincipalServiceName = cloudtrail.amazonaws.com.
 * A request is allowed when some Allow statement matches it and no Deny
 * statement does.  Principal, NotPrincipal, Action, NotAction, Resource,
 * NotResource (with * and ? wildcards) and the condition operators
 * String[Not]Equals[IgnoreCase], String[Not]Like, Arn[Not]Equals,
 * Arn[Not]Like, Bool, Null and their ...IfExists forms are evaluated; a
 * condition with any other operator does not match (an Allow that depends on
 * it does not count; a Deny that depends on it does not apply).
 * Returns 0 when both requests are allowed, else
 * -EACCES with InsufficientS3BucketPolicyException and a message that names
 * what is missing, e.g. "Incorrect S3 bucket policy is detected for bucket:
 * B: no statement allows cloudtrail.amazonaws.com s3:PutObject on
 * arn:aws:s3:::B/AWSLogs/123456789012/... (aws:SourceArn ...)".
 * A document that does not parse also gives that error. */
int policy_allows_cloudtrail(const char *doc, size_t len, const char *bucket,
			     const char *prefix, const char *account, const char *region,
			     const char *trail_arn, struct ct_err *err);

/* Glob match with IAM's wildcards: '*' any run of characters (including
 * none), '?' exactly one character.  ignore_case for StringEqualsIgnoreCase. */
bool policy_glob_match(const char *pattern, const char *s, bool ignore_case);

#endif
