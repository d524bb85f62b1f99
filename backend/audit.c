/* Audit records of trailfs's own API calls; see audit.h. */
#include "audit.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "event.h"

#ifndef TRAILFS_VERSION
#define TRAILFS_VERSION "0"
#endif

/* CloudTrail cuts errorCode, errorMessage and userAgent to 1 KB. */
#define AUDIT_FIELD_MAX 1024

const char *audit_source(const char *name)
{
	static const char *const s3[] = {
		"CreateBucket", "DeleteBucket", "ListBuckets", "GetBucketPolicy",
		"PutBucketPolicy", "DeleteBucketPolicy", "GetObject", NULL,
	};
	static const char *const kms[] = {
		"CreateKey", "CreateAlias", "DescribeKey", "ListAliases", "GetKeyPolicy",
		"PutKeyPolicy", "EnableKey", "DisableKey", "ScheduleKeyDeletion",
		"CancelKeyDeletion", "DeleteKey", "GenerateDataKey", "Decrypt", NULL,
	};
	for (const char *const *p = s3; *p; p++)
		if (!strcmp(name, *p))
			return AUDIT_SOURCE_S3;
	for (const char *const *p = kms; *p; p++)
		if (!strcmp(name, *p))
			return AUDIT_SOURCE_KMS;
	return AUDIT_SOURCE_CLOUDTRAIL;
}

void audit_call_release(struct audit_call *c)
{
	json_free(c->request);
	json_free(c->response);
	json_free(c->additional);
	c->request = c->response = c->additional = NULL;
}

json *audit_lower_camel(const json *j)
{
	if (!j)
		return NULL;
	if (!json_is_object(j) && !json_is_array(j))
		return json_dup(j);
	json *out = json_is_object(j) ? json_new_object() : json_new_array();
	for (json *m = json_first(j); out && m; m = json_next(m)) {
		json *v = audit_lower_camel(m);
		if (!v) {
			json_free(out);
			return NULL;
		}
		int r;
		if (json_is_object(j)) {
			char key[256];
			snprintf(key, sizeof key, "%s", json_key(m));
			key[0] = (char)tolower((unsigned char)key[0]);
			r = json_add(out, key, v);
		} else {
			r = json_append(out, v);
		}
		if (r < 0) {
			json_free(out);
			return NULL;
		}
	}
	return out;
}

/* A string cut to CloudTrail's 1 KB, at a UTF-8 character boundary. */
static int add_cut(json *o, const char *key, const char *s)
{
	size_t n = strlen(s);
	if (n <= AUDIT_FIELD_MAX)
		return json_add_string(o, key, s);
	char cut[AUDIT_FIELD_MAX + 1];
	n = AUDIT_FIELD_MAX;
	while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	memcpy(cut, s, n);
	cut[n] = '\0';
	return json_add_string(o, key, cut);
}

/* uid 0 is the account's root user; anyone else is the IAM user of their
 * local name (the mapping key policies use too). */
static json *user_identity(const char *account, const struct ct_caller *who)
{
	json *u = json_new_object();
	if (!u)
		return NULL;
	char arn[256], principal[32];
	int r;
	if (who->uid == 0) {
		snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", account);
		r = json_add_string(u, "type", "Root");
		if (r == 0) r = json_add_string(u, "principalId", account);
		if (r == 0) r = json_add_string(u, "arn", arn);
		if (r == 0) r = json_add_string(u, "accountId", account);
	} else {
		snprintf(arn, sizeof arn, "arn:aws:iam::%s:user/%s", account, who->user);
		snprintf(principal, sizeof principal, "%u", (unsigned)who->uid);
		r = json_add_string(u, "type", "IAMUser");
		if (r == 0) r = json_add_string(u, "principalId", principal);
		if (r == 0) r = json_add_string(u, "arn", arn);
		if (r == 0) r = json_add_string(u, "accountId", account);
		if (r == 0) r = json_add_string(u, "userName", who->user);
	}
	if (r < 0) {
		json_free(u);
		return NULL;
	}
	return u;
}

static json *s3_resources(const char *account, const char *bucket, const char *key)
{
	json *arr = json_new_array();
	struct buf arn;
	buf_init(&arn, 4096);
	int r = arr ? 0 : -ENOMEM;
	if (r == 0 && key) {
		json *o = json_new_object();
		r = o ? 0 : -ENOMEM;
		if (r == 0) r = json_append(arr, o);
		if (r == 0) r = json_add_string(o, "type", "AWS::S3::Object");
		if (r == 0) r = buf_printf(&arn, "arn:aws:s3:::%s/%s", bucket, key);
		if (r == 0) r = json_add_string(o, "ARN", buf_str(&arn));
	}
	if (r == 0) {
		json *o = json_new_object();
		r = o ? 0 : -ENOMEM;
		if (r == 0) r = json_append(arr, o);
		if (r == 0) r = json_add_string(o, "accountId", account);
		if (r == 0) r = json_add_string(o, "type", "AWS::S3::Bucket");
		buf_reset(&arn);
		if (r == 0) r = buf_printf(&arn, "arn:aws:s3:::%s", bucket);
		if (r == 0) r = json_add_string(o, "ARN", buf_str(&arn));
	}
	buf_release(&arn);
	if (r < 0) {
		json_free(arr);
		return NULL;
	}
	return arr;
}

/* A KMS call's resources: the key. */
static json *kms_resources(const char *account, const char *arn)
{
	json *arr = json_new_array();
	json *o = arr ? json_new_object() : NULL;
	int r = o ? json_append(arr, o) : -ENOMEM;
	if (r < 0)
		json_free(o);
	if (r == 0) r = json_add_string(o, "accountId", account);
	if (r == 0) r = json_add_string(o, "type", "AWS::KMS::Key");
	if (r == 0) r = json_add_string(o, "ARN", arn);
	if (r < 0) {
		json_free(arr);
		return NULL;
	}
	return arr;
}

/* The identity of a call AWS makes itself. */
static json *service_identity(const char *account)
{
	json *u = json_new_object();
	int r = u ? json_add_string(u, "accountId", account) : -ENOMEM;
	if (r == 0)
		r = json_add_string(u, "invokedBy", AUDIT_AWS_INTERNAL);
	if (r < 0) {
		json_free(u);
		return NULL;
	}
	return u;
}

/* Add item under key, or null when there is none. */
static int add_or_null(json *o, const char *key, json **item)
{
	json *v = *item ? *item : json_new_null();
	*item = NULL;
	return v ? json_add(o, key, v) : -ENOMEM;
}

json *audit_record(const char *account, const char *region, int64_t now,
		   const struct ct_caller *who, struct audit_call *c)
{
	json *o = json_new_object();
	char when[32], agent[160], request_id[EVENT_UUID_LEN + 1];
	clock_format_iso(now, when, sizeof when);
	if (c->service_event)
		snprintf(agent, sizeof agent, "%s", AUDIT_AWS_INTERNAL);
	else
		snprintf(agent, sizeof agent, "trailfs/%s %s", TRAILFS_VERSION,
			 who->program[0] ? who->program : "unknown");
	int r = o ? event_uuid(request_id) : -ENOMEM;
	json *identity = r != 0 ? NULL : c->service_event ? service_identity(account)
			 : user_identity(account, who);
	if (r == 0 && !identity)
		r = -ENOMEM;
	if (r == 0) r = json_add_string(o, "eventVersion", CT_EVENT_VERSION);
	if (r == 0) {
		r = json_add(o, "userIdentity", identity);
		identity = NULL;
	}
	if (r == 0) r = json_add_string(o, "eventTime", when);
	if (r == 0) r = json_add_string(o, "eventSource", audit_source(c->name));
	if (r == 0) r = json_add_string(o, "eventName", c->name);
	if (r == 0) r = json_add_string(o, "awsRegion", region);
	if (r == 0) r = json_add_string(o, "sourceIPAddress",
					 c->service_event ? AUDIT_AWS_INTERNAL : AUDIT_SOURCE_IP);
	if (r == 0) r = add_cut(o, "userAgent", agent);
	if (r == 0 && c->error && c->error->name[0]) {
		r = add_cut(o, "errorCode", c->error->name);
		if (r == 0) r = add_cut(o, "errorMessage", c->error->message);
	}
	if (r == 0) r = add_or_null(o, "requestParameters", &c->request);
	if (r == 0) r = add_or_null(o, "responseElements", &c->response);
	if (r == 0 && c->additional) {
		r = json_add(o, "additionalEventData", c->additional);
		c->additional = NULL;
	}
	if (r == 0) r = json_add_string(o, "requestID", request_id);
	if (r == 0) r = json_add_bool(o, "readOnly", c->read_only);
	if (r == 0 && c->bucket) {
		json *res = s3_resources(account, c->bucket, c->key);
		r = res ? json_add(o, "resources", res) : -ENOMEM;
	} else if (r == 0 && c->kms_key_arn && *c->kms_key_arn) {
		json *res = kms_resources(account, c->kms_key_arn);
		r = res ? json_add(o, "resources", res) : -ENOMEM;
	}
	if (r == 0) r = json_add_string(o, "eventType",
					c->service_event ? "AwsServiceEvent" : "AwsApiCall");
	if (r == 0) r = json_add_string(o, "recipientAccountId", account);
	json_free(identity);
	audit_call_release(c);
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}
