/* The trail model: what CloudTrail's Trail structure, GetTrailStatus and
 * GetEventSelectors say about one trail, held as plain data.
 *
 * A struct trail owns its arrays and strings; trail_copy makes a deep copy and
 * trail_release frees one.  The JSON forms (AWS member names) live here too,
 * so the registry file and config.json speak the same language. */
#ifndef TRAILFS_TRAIL_H
#define TRAILFS_TRAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "json.h"
#include "ct_limits.h"

/* Read/write type as two bits, so that unions are a bitwise or. */
enum rw_type {
	RW_NONE = 0,
	RW_READ = 1,   /* "ReadOnly" */
	RW_WRITE = 2,  /* "WriteOnly" */
	RW_ALL = 3,    /* "All" */
};

/* "All", "ReadOnly", "WriteOnly", "None" */
const char *rw_type_name(enum rw_type t);
/* Exact, case-sensitive AWS spelling; allow_none accepts "None".
 * 0 or -EINVAL. */
int rw_type_parse(const char *s, bool allow_none, enum rw_type *out);

/* One basic-selector data resource: a value (prefix of a resource ARN) with
 * its resource type and read/write type. */
struct data_resource {
	char *type;     /* "AWS::S3::Object", "AWS::Lambda::Function", "AWS::DynamoDB::Table" */
	char *value;    /* e.g. "arn:aws:s3:::bucket/prefix", "arn:aws:s3" */
	enum rw_type rw;
};

struct tag {
	char *key;
	char *value;    /* "" for an empty value */
};

/* What the trail selects.  Basic event selectors are derived from this
 * (selectors_to_json) and folded back into it (selectors_from_json). */
struct selectors {
	enum rw_type mgmt;            /* management events; RW_NONE = not included */
	bool exclude_kms;             /* ExcludeManagementEventSources: kms.amazonaws.com */
	bool exclude_rdsdata;         /*   and rdsdata.amazonaws.com */
	struct data_resource *res;
	size_t n_res;
};

struct trail {
	char name[CT_TRAIL_NAME_MAX + 1];
	char home_region[CT_REGION_MAX + 1];
	char account[CT_ACCOUNT_LEN + 1];
	char bucket[CT_BUCKET_NAME_MAX + 1];
	char prefix[CT_PREFIX_MAX + 1];        /* "" = none */
	char kms_key_arn[CT_ARN_MAX + 1];      /* "" = no encryption */
	char sns_topic_arn[CT_ARN_MAX + 1];    /* "" = none */
	char log_group_arn[CT_ARN_MAX + 1];    /* "" = none */
	char log_role_arn[CT_ARN_MAX + 1];     /* "" = none */
	bool multi_region;
	bool global_events;
	bool validation;
	bool logging;
	int64_t start_logging_time;            /* epoch seconds; 0 = never */
	int64_t stop_logging_time;             /* epoch seconds; 0 = never */
	int64_t created_time;
	struct selectors sel;
	struct tag *tags;
	size_t n_tags;
};

void trail_init(struct trail *t);
void trail_release(struct trail *t);
/* Deep copy src into dst (dst must not hold anything).  0 or -ENOMEM. */
int trail_copy(struct trail *dst, const struct trail *src);

/* "arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME" into out (size >= CT_ARN_MAX+1). */
void trail_arn(const struct trail *t, char *out, size_t size);

void selectors_release(struct selectors *s);
int selectors_copy(struct selectors *dst, const struct selectors *src);
/* Add or merge a data resource (same type and value: read/write types are
 * or-ed together).  Takes copies of the strings.  0 or -ENOMEM. */
int selectors_add_resource(struct selectors *s, const char *type, const char *value, enum rw_type rw);
/* True when the selectors are CloudTrail's defaults (all management events,
 * no exclusions, no data resources). */
bool selectors_are_default(const struct selectors *s);

/* Set tag key to value, replacing an existing key.  0 or -ENOMEM. */
int trail_set_tag(struct trail *t, const char *key, const char *value);
/* Remove tag key; true if it was there. */
bool trail_remove_tag(struct trail *t, const char *key);
void trail_clear_tags(struct trail *t);

/* Basic event selectors in AWS's shape: an array of
 * {ReadWriteType, IncludeManagementEvents, DataResources, ExcludeManagementEventSources},
 * one selector per read/write type in use, in the order All, ReadOnly, WriteOnly.
 * NULL on allocation failure. */
json *selectors_to_json(const struct selectors *s);
/* Fold AWS basic EventSelectors (a JSON array) into out (which must be empty).
 * Validates as PutEventSelectors does: 1 to 5 selectors, known members only,
 * ReadWriteType enum, resource types and values, the 250-resource limit.
 * 0, or a negative errno with err filled (InvalidEventSelectorsException). */
int selectors_from_json(const json *arr, struct selectors *out, struct ct_err *err);

/* The Trail structure as DescribeTrails shows it, plus EventSelectors,
 * TagsList and IsLogging (the config.json document).  Unset strings are
 * left out, as AWS leaves them out.  NULL on allocation failure. */
json *trail_to_config_json(const struct trail *t);

/* The registry's record of one trail (every field, times included). */
json *trail_to_state_json(const struct trail *t);
/* Inverse of trail_to_state_json; t must be initialised.  0 or -EINVAL with
 * err naming the member that is wrong. */
int trail_from_state_json(const json *j, struct trail *t, struct ct_err *err);

#endif
