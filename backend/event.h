/* CloudTrail records coming in: splitting the /events stream into records,
 * checking them, and filling in what AWS would fill in.
 *
 * The stream is JSON Lines or {"Records":[...]} documents, or any mix of
 * them, separated by white space; a record may be split across writes.  A
 * normalised record is compact JSON in the input's member order, with the
 * filled-in members appended, ready to be delivered as it stands. */
#ifndef TRAILFS_EVENT_H
#define TRAILFS_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ct_limits.h"
#include "err.h"
#include "json.h"

#define CT_EVENT_MAX          (256 * 1024)       /* bytes of one normalised record */
#define CT_EVENT_STREAM_MAX   (64 * 1024 * 1024) /* an unfinished value carried across writes */
#define CT_EVENT_VERSION      "1.11"             /* eventVersion filled in when absent */
#define CT_EVENT_SOURCE_MAX   128
#define CT_EVENT_ID_MAX       64

enum event_category { EC_MANAGEMENT, EC_DATA, EC_INSIGHT, EC_NETWORK };

struct event_resource {
	char *type;   /* e.g. "AWS::S3::Object"; "" when the record gives none */
	char *arn;
};

/* One normalised record and what routing needs to know of it. */
struct event {
	char *json;                              /* owned, NUL-terminated, compact */
	size_t len;
	char region[CT_REGION_MAX + 1];          /* awsRegion */
	char source[CT_EVENT_SOURCE_MAX + 1];    /* eventSource */
	char name[CT_EVENT_SOURCE_MAX + 1];      /* eventName */
	char id[CT_EVENT_ID_MAX + 1];            /* eventID */
	int64_t time;                            /* eventTime, epoch seconds */
	enum event_category category;            /* eventCategory */
	bool management;                         /* managementEvent */
	bool read_only;                          /* readOnly */
	bool global;                             /* from a global service (see event_source_global) */
	struct event_resource *resources;        /* resources[] */
	size_t n_resources;
};

void event_release(struct event *e);
void events_free(struct event *v, size_t n);

/* Who ingested a record: stamped into additionalEventData.trailfsIngest as
 * {"uid":N,"userName":"...","program":"..."}, replacing any such member the
 * record brought (a forged stamp never survives). */
struct ingest_who {
	uint32_t uid;
	char user[64];
	char program[64];
};

struct event_ctx {
	const char *account;              /* recipientAccountId when absent */
	const char *const *regions;       /* awsRegion must be one of these */
	size_t n_regions;
	const struct ingest_who *who;     /* NULL: no stamp (trailfs's own events) */
};

/* Check and complete one record (a JSON object) into e (which must be
 * zeroed).  Required: eventTime ("YYYY-MM-DDTHH:MM:SSZ", fractional seconds
 * ".sss" before the Z also accepted), eventSource, eventName (non-empty
 * strings), awsRegion (a configured region).  Filled in when absent, as AWS
 * would: eventID (a random UUID v4), eventVersion, recipientAccountId,
 * eventType ("AwsApiCall"), eventCategory and managementEvent (Data for the
 * data-plane calls of S3 (the object-level list in reference §7.3), Lambda
 * (Invoke) and DynamoDB (item-level calls); Management otherwise), readOnly
 * (true for Get/List/Describe/Head/Lookup/Search/Query/Scan/BatchGet/Select
 * verbs), and for S3 data events without resources, resources from
 * requestParameters.bucketName/key (the object and the bucket, as AWS writes
 * them).  Present members are kept as given, but must have the right JSON
 * type.  A normalised record over CT_EVENT_MAX is refused.
 * Errors: InvalidEventException (EINVAL) with a message naming the member. */
int event_normalize(const json *record, const struct event_ctx *ctx, struct event *e,
		    struct ct_err *err);

/* True for the global services whose events AWS records in us-east-1 only
 * and which a trail takes only with IncludeGlobalServiceEvents: iam, sts,
 * cloudfront, route53, waf (as eventSource NAME.amazonaws.com). */
bool event_source_global(const char *source);

/* A fresh random (version 4) UUID, lower-case, e.g. for a requestID.
 * 0 or -errno from getrandom. */
#define EVENT_UUID_LEN 36
int event_uuid(char out[EVENT_UUID_LEN + 1]);

/* The /events stream of one open file. */
struct event_stream {
	struct buf carry;       /* bytes of an unfinished top-level value */
	size_t line;            /* line number (1-based) where carry begins */
	size_t lines_in_carry;  /* newlines inside carry */
	/* scanner state over carry, so that no byte is scanned twice */
	size_t scanned;
	unsigned depth;
	bool in_string;
	bool escaped;
};

void event_stream_init(struct event_stream *s);
void event_stream_release(struct event_stream *s);

/* Feed one write request.  Every top-level JSON value that is complete in
 * carry + data is parsed: an object whose only member is "Records" (an
 * array of objects) gives each element as a record; any other object is one
 * record.  All or nothing: on success *out holds the normalised records (n
 * may be 0; free with events_free) and the stream keeps the unfinished tail;
 * on failure nothing is returned, the stream is as it was before the call,
 * and err says which line and why (InvalidEventException, EINVAL; a value
 * that is not an object, bad JSON, a record over CT_EVENT_MAX, an unfinished
 * value past CT_EVENT_STREAM_MAX). */
int event_stream_feed(struct event_stream *s, const char *data, size_t len,
		      const struct event_ctx *ctx, struct event **out, size_t *n,
		      struct ct_err *err);

/* At close: 0 when nothing is pending (white space only); otherwise
 * InvalidEventException naming the line where the unfinished record began. */
int event_stream_finish(const struct event_stream *s, struct ct_err *err);

/* Testing aid: with on false, every value goes the general way (a tree
 * from cJSON), never the one-pass scanner that takes the common shapes, so
 * a test can check that both give the same records.  Process-wide; on by
 * default. */
void event_set_fast_path(bool on);

#endif
