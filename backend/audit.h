/* Audit records of trailfs's own API calls: every control-plane action
 * through the tree (CreateTrail, PutBucketPolicy, GetTrailStatus, ...) and
 * every read of a delivered log file (an S3 GetObject data event) becomes a
 * CloudTrail record, built here and ingested like any other.
 *
 * This module only builds records; the facade (ct.c) decides when a call
 * happened and hands the record to the spool. */
#ifndef TRAILFS_AUDIT_H
#define TRAILFS_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "json.h"

/* Who made a call, as the driver learns it from the kernel. */
struct ct_caller {
	uint32_t uid;
	uint32_t gid;
	int32_t pid;
	char user[64];      /* user name, or the uid in decimal */
	char program[64];   /* the calling process's name (comm) */
};

#define AUDIT_SOURCE_CLOUDTRAIL "cloudtrail.amazonaws.com"
#define AUDIT_SOURCE_S3         "s3.amazonaws.com"
#define AUDIT_SOURCE_KMS        "kms.amazonaws.com"
/* userIdentity.invokedBy, sourceIPAddress and userAgent of the calls AWS
 * makes itself (a key's deletion at the end of its pending window). */
#define AUDIT_AWS_INTERNAL      "AWS Internal"
/* sourceIPAddress of every call made through the mount: the caller is a
 * local process. */
#define AUDIT_SOURCE_IP         "127.0.0.1"

/* One API call, as its record tells it. */
struct audit_call {
	const char *name;          /* eventName, e.g. "UpdateTrail" */
	bool read_only;
	json *request;             /* requestParameters; owned by the call; NULL = null */
	json *response;            /* responseElements; owned by the call; NULL = null */
	json *additional;          /* additionalEventData; owned; NULL = none */
	const char *bucket;        /* S3 calls: the bucket (resources, Host); else NULL */
	const char *key;           /* GetObject: the object key; else NULL */
	const char *kms_key_arn;   /* KMS calls: the key (resources AWS::KMS::Key); else NULL */
	bool service_event;        /* made by AWS itself: eventType AwsServiceEvent, userIdentity
				    * {accountId, invokedBy "AWS Internal"}; who is ignored */
	const struct ct_err *error;/* a failed call: errorCode, errorMessage; else NULL */
};

/* The eventSource of an API call by its name: S3's calls (CreateBucket,
 * DeleteBucket, ListBuckets, GetBucketPolicy, PutBucketPolicy,
 * DeleteBucketPolicy, GetObject) are s3.amazonaws.com; the key ring's
 * (CreateKey, CreateAlias, DescribeKey, ListAliases, GetKeyPolicy,
 * PutKeyPolicy, EnableKey, DisableKey, ScheduleKeyDeletion,
 * CancelKeyDeletion, DeleteKey, GenerateDataKey, Decrypt) kms.amazonaws.com;
 * the rest cloudtrail.amazonaws.com. */
const char *audit_source(const char *name);

/* The record of call c made by who at time now in region, for account:
 * eventTime, eventSource, eventName, awsRegion, userIdentity (uid 0 is the
 * account's Root; any other user the IAM user of its name, principalId its
 * uid), sourceIPAddress, userAgent ("trailfs/VERSION PROGRAM"),
 * requestParameters, responseElements, requestID (a UUID), readOnly,
 * eventType AwsApiCall, errorCode/errorMessage for a failure, resources for
 * S3 and KMS calls.  A service event (c->service_event) has AWS's internal
 * identity instead and who may be NULL.  eventID and the category members are left to event_normalize.
 * Takes ownership of c->request, c->response and c->additional (freed also
 * on failure).  NULL on allocation failure. */
json *audit_record(const char *account, const char *region, int64_t now,
		   const struct ct_caller *who, struct audit_call *c);

/* A deep copy of j with every object member name's first letter in lower
 * case: AWS's API shapes (TrailARN, EventSelectors) as CloudTrail writes them
 * in requestParameters and responseElements (trailARN, eventSelectors).
 * NULL on allocation failure (or when j is NULL). */
json *audit_lower_camel(const json *j);

/* Free what a call owns (for a call that will not be recorded). */
void audit_call_release(struct audit_call *c);

#endif
