/* The key ring part of the facade; see ct_kms.h. */
#include "ct_kms.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "crypto.h"
#include "envelope.h"
#include "json.h"
#include "kmspolicy.h"
#include "store.h"

#define KMS_PATH_MAX 4096

struct ct_kms {
	struct keyring *ring;
	int days;
	char account[CT_ACCOUNT_LEN + 1];
	char region[CT_REGION_MAX + 1];
	/* admin serialises the calls that make more than one change (CreateKey
	 * then CreateAlias), so that two mkdirs of one name cannot both make a
	 * key; expire guards next_expiry. */
	pthread_mutex_t admin;
	pthread_mutex_t expire;
	int64_t next_expiry;          /* the earliest DeletionDate, 0 when none */
};

/* The earliest DeletionDate of the ring's pending keys, 0 when none. */
static int64_t earliest_deletion(struct keyring *kr)
{
	struct keyring_key_info *keys = NULL;
	struct keyring_alias *aliases = NULL;
	size_t nk = 0, na = 0;
	int64_t next = 0;
	if (keyring_list(kr, &keys, &nk, &aliases, &na) == 0)
		for (size_t i = 0; i < nk; i++)
			if (keys[i].state == KEYRING_PENDING_DELETION &&
			    (!next || keys[i].deletion_date < next))
				next = keys[i].deletion_date;
	free(keys);
	free(aliases);
	return next;
}

struct ct_kms *ct_kms_open(const char *state_dir, const char *account, const char *region,
			   unsigned days, struct ct_err *err)
{
	if (days == 0)
		days = CT_KEY_DELETION_DAYS_DEFAULT;
	if (days < KEYRING_WINDOW_MIN_DAYS || days > KEYRING_WINDOW_MAX_DAYS) {
		ct_fail(err, "InvalidParameterException",
			"key_deletion_days=%u: the pending window is %d to %d days, as on AWS", days,
			KEYRING_WINDOW_MIN_DAYS, KEYRING_WINDOW_MAX_DAYS);
		return NULL;
	}
	struct ct_kms *k = calloc(1, sizeof *k);
	char dir[KMS_PATH_MAX];
	if (!k || snprintf(dir, sizeof dir, "%s/keyring", state_dir) >= (int)sizeof dir) {
		free(k);
		ct_fail_errno(err, ENOMEM, "keyring");
		return NULL;
	}
	k->ring = keyring_open(dir, account, region, err);
	if (!k->ring) {
		free(k);
		return NULL;
	}
	k->days = (int)days;
	snprintf(k->account, sizeof k->account, "%s", account);
	snprintf(k->region, sizeof k->region, "%s", region);
	pthread_mutex_init(&k->admin, NULL);
	pthread_mutex_init(&k->expire, NULL);
	k->next_expiry = earliest_deletion(k->ring);
	return k;
}

void ct_kms_close(struct ct_kms *k)
{
	if (!k)
		return;
	keyring_close(k->ring);
	pthread_mutex_destroy(&k->admin);
	pthread_mutex_destroy(&k->expire);
	free(k);
}

struct keyring *ct_kms_ring(struct ct_kms *k)
{
	return k->ring;
}

/* ---- records ---- */

static json *object_with(const char *key, const char *value)
{
	json *o = json_new_object();
	if (o && json_add_string(o, key, value) < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

static void add_time(json *o, const char *key, int64_t t)
{
	char iso[32];
	clock_format_iso(t, iso, sizeof iso);
	(void)json_add_string(o, key, iso);
}

/* CreateKey's record: the request the console makes, and the new key's
 * KeyMetadata. */
static void create_key_call(struct ct_kms *k, const struct keyring_key_info *info,
			    struct audit_call *c)
{
	memset(c, 0, sizeof *c);
	c->name = "CreateKey";
	c->kms_key_arn = NULL;   /* set by the caller from its own copy of the ARN */
	c->request = json_new_object();
	c->response = json_new_object();
	json *meta = json_new_object();
	int r = c->request && c->response && meta ? 0 : -ENOMEM;
	if (r == 0) r = json_add_string(c->request, "keyUsage", "ENCRYPT_DECRYPT");
	if (r == 0) r = json_add_string(c->request, "keySpec", "SYMMETRIC_DEFAULT");
	if (r == 0) r = json_add_string(c->request, "origin", "AWS_KMS");
	if (r == 0) r = json_add_string(meta, "aWSAccountId", k->account);
	if (r == 0) r = json_add_string(meta, "keyId", info->key_id);
	if (r == 0) r = json_add_string(meta, "arn", info->arn);
	if (r == 0) add_time(meta, "creationDate", info->creation_date);
	if (r == 0) r = json_add_bool(meta, "enabled", true);
	if (r == 0) r = json_add_string(meta, "keyUsage", "ENCRYPT_DECRYPT");
	if (r == 0) r = json_add_string(meta, "keyState", "Enabled");
	if (r == 0) r = json_add_string(meta, "origin", "AWS_KMS");
	if (r == 0) r = json_add_string(meta, "keyManager", "CUSTOMER");
	if (r == 0) r = json_add_string(meta, "keySpec", "SYMMETRIC_DEFAULT");
	if (r == 0) {
		r = json_add(c->response, "keyMetadata", meta);
		meta = NULL;
	}
	json_free(meta);
}

static void create_alias_call(const char *alias, const char *key_id, struct audit_call *c)
{
	memset(c, 0, sizeof *c);
	c->name = "CreateAlias";
	c->request = json_new_object();
	int r = c->request ? json_add_string(c->request, "aliasName", alias) : -ENOMEM;
	if (r == 0)
		(void)json_add_string(c->request, "targetKeyId", key_id);
}

/* A call that names only its key (keyId as the caller gave it). */
static void record_simple(struct ct *ct, const struct ct_caller *who, const char *call,
			  const char *key_id, const char *arn, json *response)
{
	struct audit_call c = { .name = call, .kms_key_arn = arn, .response = response,
				.read_only = !strncmp(call, "Get", 3) ||
					     !strncmp(call, "Describe", 8) ||
					     !strncmp(call, "List", 4) };
	c.request = object_with("keyId", key_id);
	ct_audit_call(ct, who, &c);
}

/* ---- names ---- */

/* alias/NAME for a tree name, checked as CreateAlias checks it. */
static int alias_of(const char *name, char out[KEYRING_ALIAS_MAX + 1], struct ct_err *err)
{
	if (strchr(name, '/') || snprintf(out, KEYRING_ALIAS_MAX + 1, "alias/%s", name) >
						   KEYRING_ALIAS_MAX)
		return ct_fail(err, "InvalidAliasNameException",
			       "Alias name alias/%.64s%s is not valid: 1 to 250 characters of "
			       "A-Z a-z 0-9 _ -", name, strlen(name) > 64 ? "..." : "");
	return keyring_alias_name_check(out, err);
}

/* ---- expiry ---- */

void ct_kms_tick(struct ct *ct)
{
	struct ct_kms *k = ct_kms_of(ct);
	if (!k)
		return;
	int64_t now = ct_now(ct);
	pthread_mutex_lock(&k->expire);
	if (!k->next_expiry || now < k->next_expiry) {
		pthread_mutex_unlock(&k->expire);
		return;
	}
	/* The keys about to go, for their DeleteKey records. */
	struct keyring_key_info *keys = NULL;
	struct keyring_alias *aliases = NULL;
	size_t nk = 0, na = 0;
	(void)keyring_list(k->ring, &keys, &nk, &aliases, &na);
	struct ct_err err;
	ct_err_clear(&err);
	size_t destroyed = 0;
	int64_t next = 0;
	int r = keyring_expire(k->ring, now, &destroyed, &next, &err);
	k->next_expiry = r == 0 ? next : earliest_deletion(k->ring);
	pthread_mutex_unlock(&k->expire);
	if (r < 0)
		ct_record_error(ct, NULL, "expire", "/keys", &err);
	for (size_t i = 0; i < nk; i++) {
		if (keys[i].state != KEYRING_PENDING_DELETION || keys[i].deletion_date > now)
			continue;
		struct keyring_key_info still;
		if (keyring_describe(k->ring, keys[i].key_id, &still, NULL) == 0)
			continue;   /* not destroyed (the expiry failed before it) */
		struct audit_call c = { .name = "DeleteKey", .service_event = true,
					.kms_key_arn = keys[i].arn,
					.response = object_with("keyId", keys[i].arn) };
		ct_audit_call(ct, NULL, &c);
	}
	free(keys);
	free(aliases);
}

/* A key was scheduled for deletion: the expiry must look again by then. */
static void expiry_at(struct ct_kms *k, int64_t when)
{
	pthread_mutex_lock(&k->expire);
	if (!k->next_expiry || when < k->next_expiry)
		k->next_expiry = when;
	pthread_mutex_unlock(&k->expire);
}

/* ---- the tree's calls ---- */

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ct_kms_list(struct ct *ct, const struct ct_caller *who, char ***names, size_t *n)
{
	struct ct_kms *k = ct_kms_of(ct);
	ct_kms_tick(ct);
	struct keyring_key_info *keys = NULL;
	struct keyring_alias *aliases = NULL;
	size_t nk = 0, na = 0;
	int r = keyring_list(k->ring, &keys, &nk, &aliases, &na);
	char **list = r == 0 ? calloc(na + 1, sizeof *list) : NULL;
	size_t count = 0;
	if (r == 0 && !list)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < na; i++) {
		const char *name = aliases[i].name + strlen("alias/");
		if (strchr(name, '/'))
			continue;
		if (!(list[count] = strdup(name)))
			r = -ENOMEM;
		else
			count++;
	}
	free(keys);
	free(aliases);
	if (r < 0) {
		store_names_free(list, count);
		return r;
	}
	qsort(list, count, sizeof *list, by_string);
	*names = list;
	*n = count;
	struct audit_call c = { .name = "ListAliases", .read_only = true,
				.request = json_new_object() };
	ct_audit_call(ct, who, &c);
	return 0;
}

bool ct_kms_exists(struct ct *ct, const char *name)
{
	char alias[KEYRING_ALIAS_MAX + 1];
	if (alias_of(name, alias, NULL) < 0)
		return false;
	ct_kms_tick(ct);
	struct keyring_key_info info;
	return keyring_describe(ct_kms_ring(ct_kms_of(ct)), alias, &info, NULL) == 0;
}

int ct_kms_create(struct ct *ct, const struct ct_caller *who, const char *name,
		  struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	char alias[KEYRING_ALIAS_MAX + 1];
	int r = alias_of(name, alias, err);
	if (r < 0) {
		ct_err_call(err, "CreateAlias", alias);
		return r;
	}
	struct keyring_key_info info;
	pthread_mutex_lock(&k->admin);
	if (keyring_describe(k->ring, alias, &info, NULL) == 0) {
		pthread_mutex_unlock(&k->admin);
		r = ct_fail(err, "AlreadyExistsException",
			    "An alias with the name arn:aws:kms:%s:%s:%s already exists", k->region,
			    k->account, alias);
		ct_err_call(err, "CreateAlias", alias);
		return r;
	}
	r = keyring_create_key(k->ring, NULL, 0, ct_now(ct), &info, err);
	if (r < 0) {
		pthread_mutex_unlock(&k->admin);
		ct_err_call(err, "CreateKey", "");
		return r;
	}
	struct audit_call c;
	create_key_call(k, &info, &c);
	c.kms_key_arn = info.arn;
	ct_audit_call(ct, who, &c);
	r = keyring_create_alias(k->ring, alias, info.key_id, err);
	pthread_mutex_unlock(&k->admin);
	if (r < 0) {
		/* The key stays, without an alias, as on AWS after a failed
		 * CreateAlias; the tree cannot show it. */
		ct_err_call(err, "CreateAlias", alias);
		return r;
	}
	create_alias_call(alias, info.key_id, &c);
	c.kms_key_arn = info.arn;
	ct_audit_call(ct, who, &c);
	return 0;
}

int ct_kms_schedule_deletion(struct ct *ct, const struct ct_caller *who, const char *name,
			     struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	char alias[KEYRING_ALIAS_MAX + 1];
	struct keyring_key_info info;
	int r = alias_of(name, alias, err);
	if (r == 0)
		r = keyring_describe(k->ring, alias, &info, err);
	int64_t when = 0;
	if (r == 0)
		r = keyring_schedule_deletion(k->ring, info.key_id, k->days, ct_now(ct), &when, err);
	if (r < 0) {
		ct_err_call(err, "ScheduleKeyDeletion", alias);
		return r;
	}
	expiry_at(k, when);
	struct audit_call c = { .name = "ScheduleKeyDeletion", .kms_key_arn = info.arn,
				.request = object_with("keyId", alias),
				.response = json_new_object() };
	if (c.request)
		(void)json_add_number(c.request, "pendingWindowInDays", k->days);
	if (c.response) {
		(void)json_add_string(c.response, "keyId", info.arn);
		add_time(c.response, "deletionDate", when);
		(void)json_add_string(c.response, "keyState", "PendingDeletion");
		(void)json_add_number(c.response, "pendingWindowInDays", k->days);
	}
	ct_audit_call(ct, who, &c);
	return 0;
}

int ct_kms_describe(struct ct *ct, const struct ct_caller *who, const char *name,
		    struct keyring_key_info *info, struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	ct_kms_tick(ct);
	char alias[KEYRING_ALIAS_MAX + 1];
	int r = alias_of(name, alias, err);
	if (r == 0)
		r = keyring_describe(k->ring, alias, info, err);
	if (r < 0) {
		ct_err_call(err, "DescribeKey", alias);
		return r;
	}
	/* KMS records DescribeKey with responseElements null. */
	record_simple(ct, who, "DescribeKey", alias, info->arn, NULL);
	return 0;
}

int ct_kms_get_policy(struct ct *ct, const struct ct_caller *who, const char *name,
		      struct buf *out, struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	char alias[KEYRING_ALIAS_MAX + 1];
	struct keyring_key_info info;
	int r = alias_of(name, alias, err);
	if (r == 0)
		r = keyring_describe(k->ring, alias, &info, err);
	if (r == 0)
		r = keyring_get_policy(k->ring, info.key_id, out, err);
	if (r < 0) {
		ct_err_call(err, "GetKeyPolicy", alias);
		return r;
	}
	struct audit_call c = { .name = "GetKeyPolicy", .read_only = true,
				.kms_key_arn = info.arn, .request = object_with("keyId", alias) };
	if (c.request)
		(void)json_add_string(c.request, "policyName", "default");
	ct_audit_call(ct, who, &c);
	return 0;
}

static bool user_exists(const char *name, void *arg)
{
	(void)arg;
	struct passwd pw, *res = NULL;
	char text[1024];
	return getpwnam_r(name, &pw, text, sizeof text, &res) == 0 && res;
}

/* The local user who is, as a key policy's principal. */
static void user_request(const struct ct_caller *who, const char *action, const char *arn,
			 const char *account, struct kms_request *rq)
{
	memset(rq, 0, sizeof *rq);
	rq->action = action;
	rq->key_arn = arn;
	rq->account = account;
	rq->kind = KMS_PRINCIPAL_USER;
	rq->user = who ? who->user : "root";
	rq->uid = who ? who->uid : 0;
}

int ct_kms_put_policy(struct ct *ct, const struct ct_caller *who, const char *name,
		      const char *doc, size_t len, unsigned flags, struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	char alias[KEYRING_ALIAS_MAX + 1];
	struct keyring_key_info info;
	int r = alias_of(name, alias, err);
	if (r == 0)
		r = keyring_describe(k->ring, alias, &info, err);
	if (r == 0)
		r = kmspolicy_check_principals(doc, len, k->account, user_exists, NULL, err);
	struct kms_request rq;
	user_request(who, "kms:PutKeyPolicy", info.arn, k->account, &rq);
	if (r == 0 && (flags & CT_DRY_RUN)) {
		struct ct_err why;
		if (info.state == KEYRING_PENDING_DELETION)
			r = ct_fail(err, "KMSInvalidStateException", "%s is pending deletion.",
				    info.arn);
		else if (kmspolicy_evaluate(doc, len, &rq, &why) < 0)
			r = ct_fail(err, "MalformedPolicyDocumentException",
				    "The new key policy will not allow you to update the key policy "
				    "in the future.");
	} else if (r == 0) {
		r = keyring_put_policy(k->ring, info.key_id, doc, len, &rq, err);
	}
	if (r < 0) {
		ct_err_call(err, "PutKeyPolicy", alias);
		return r;
	}
	if (flags & CT_DRY_RUN)
		return 0;
	struct audit_call c = { .name = "PutKeyPolicy", .kms_key_arn = info.arn,
				.request = object_with("keyId", alias) };
	json *policy = json_parse(doc, len, NULL);
	if (c.request) {
		(void)json_add_string(c.request, "policyName", "default");
		if (policy) {
			char *text = json_print(policy, false);
			if (text)
				(void)json_add_string(c.request, "policy", text);
			free(text);
		}
		(void)json_add_bool(c.request, "bypassPolicyLockoutSafetyCheck", false);
	}
	json_free(policy);
	ct_audit_call(ct, who, &c);
	return 0;
}

int ct_kms_set_enabled(struct ct *ct, const struct ct_caller *who, const char *name,
		       bool enabled, unsigned flags, struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	char alias[KEYRING_ALIAS_MAX + 1];
	struct keyring_key_info info;
	int r = alias_of(name, alias, err);
	if (r == 0)
		r = keyring_describe(k->ring, alias, &info, err);
	bool pending = r == 0 && info.state == KEYRING_PENDING_DELETION;
	const char *call = enabled ? "EnableKey" : pending ? "CancelKeyDeletion" : "DisableKey";
	if (r == 0 && pending && enabled)
		r = ct_fail(err, "KMSInvalidStateException",
			    "%s is pending deletion. Write Disabled to state first: that cancels "
			    "the deletion (CancelKeyDeletion) and leaves the key Disabled",
			    info.arn);
	if (r == 0 && !(flags & CT_DRY_RUN))
		r = pending ? keyring_cancel_deletion(k->ring, info.key_id, err)
			    : keyring_set_enabled(k->ring, info.key_id, enabled, err);
	if (r < 0) {
		ct_err_call(err, call, alias);
		return r;
	}
	if (flags & CT_DRY_RUN)
		return 0;
	if (pending) {
		pthread_mutex_lock(&k->expire);
		k->next_expiry = earliest_deletion(k->ring);
		pthread_mutex_unlock(&k->expire);
	}
	record_simple(ct, who, call, alias, info.arn,
		      pending ? object_with("keyId", info.arn) : NULL);
	return 0;
}

/* ---- the trail's kms_key ---- */

/* Is spec an alias of this account and region (alias/NAME or its ARN)?
 * alias gets alias/NAME. */
static bool spec_alias(struct ct_kms *k, const char *spec, char alias[KEYRING_ALIAS_MAX + 1])
{
	const char *name = NULL;
	char prefix[128];
	snprintf(prefix, sizeof prefix, "arn:aws:kms:%s:%s:", k->region, k->account);
	if (!strncmp(spec, "alias/", 6))
		name = spec;
	else if (!strncmp(spec, prefix, strlen(prefix)) &&
		 !strncmp(spec + strlen(prefix), "alias/", 6))
		name = spec + strlen(prefix);
	if (!name || strlen(name) > KEYRING_ALIAS_MAX)
		return false;
	snprintf(alias, KEYRING_ALIAS_MAX + 1, "%s", name);
	return true;
}

int ct_kms_trail_key(struct ct *ct, const char *spec, const char *trail_arn,
		     char arn[KEYRING_ARN_MAX], bool *create, char *alias, struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	*create = false;
	ct_kms_tick(ct);
	struct keyring_key_info info;
	struct ct_err why;
	ct_err_clear(&why);
	int r = keyring_describe(k->ring, spec, &info, &why);
	if (r == -ENOENT) {
		if (spec_alias(k, spec, alias)) {
			if ((r = keyring_alias_name_check(alias, &why)) < 0)
				return ct_fail(err, "InvalidKmsKeyIdException", "%s", why.message);
			*create = true;
			return 0;
		}
		return ct_fail(err, "KmsKeyNotFoundException",
			       "KMS key %s does not exist in %s (%s); make one with mkdir keys/NAME "
			       "and name it alias/NAME, or name a new alias/NAME to have one made",
			       spec, k->region, why.message);
	}
	if (r < 0) {
		if (err)
			*err = why;
		return r;
	}
	if (info.state != KEYRING_ENABLED)
		return ct_fail(err, "KmsException",
			       "KMS key %s is %s: CloudTrail cannot encrypt with it; write Enabled to "
			       "keys/NAME/state first", info.arn,
			       info.state == KEYRING_DISABLED ? "disabled" : "pending deletion");
	struct buf policy;
	buf_init(&policy, KMSPOLICY_MAX + 1);
	r = keyring_get_policy(k->ring, info.key_id, &policy, err);
	if (r == 0)
		r = kmspolicy_allows_cloudtrail(policy.data, policy.len, k->account, info.arn,
						trail_arn, err);
	buf_release(&policy);
	if (r == 0)
		snprintf(arn, KEYRING_ARN_MAX, "%s", info.arn);
	return r;
}

int ct_kms_create_for_trail(struct ct *ct, const struct ct_caller *who, const char *alias,
			    const char *trail_arn, char arn[KEYRING_ARN_MAX],
			    struct audit_call calls[2], size_t *n, struct ct_err *err)
{
	struct ct_kms *k = ct_kms_of(ct);
	*n = 0;
	struct buf policy;
	buf_init(&policy, KMSPOLICY_MAX);
	int r = kmspolicy_for_cloudtrail(k->account, trail_arn, who ? who->user : "root",
					 who ? who->uid : 0, &policy);
	if (r < 0) {
		buf_release(&policy);
		return ct_fail_errno(err, r, "key policy");
	}
	struct keyring_key_info info;
	pthread_mutex_lock(&k->admin);
	if (keyring_describe(k->ring, alias, &info, NULL) == 0) {
		pthread_mutex_unlock(&k->admin);
		buf_release(&policy);
		return ct_fail(err, "KmsException",
			       "the alias %s was made by another call meanwhile; write it again", alias);
	}
	r = keyring_create_key(k->ring, policy.data, policy.len, ct_now(ct), &info, err);
	buf_release(&policy);
	if (r == 0)
		r = keyring_create_alias(k->ring, alias, info.key_id, err);
	pthread_mutex_unlock(&k->admin);
	if (r < 0)
		return r;
	snprintf(arn, KEYRING_ARN_MAX, "%s", info.arn);
	if (who) {
		create_key_call(k, &info, &calls[0]);
		calls[0].kms_key_arn = arn;
		create_alias_call(alias, info.key_id, &calls[1]);
		calls[1].kms_key_arn = arn;
		*n = 2;
	}
	return 0;
}

/* ---- log files ---- */

int ct_kms_seal(struct ct *ct, const char *key_arn, const char *trail_arn, const void *gz,
		size_t len, struct buf *out, struct store_object_info *info, char *why,
		size_t size)
{
	struct ct_kms *k = ct_kms_of(ct);
	struct ct_err err;
	ct_err_clear(&err);
	struct buf policy;
	buf_init(&policy, KMSPOLICY_MAX + 1);
	int r = keyring_get_policy(k->ring, key_arn, &policy, &err);
	if (r == 0)
		r = kmspolicy_allows_cloudtrail(policy.data, policy.len, k->account, key_arn,
						trail_arn, &err);
	buf_release(&policy);
	const struct crypto_context_pair ctx[] = { { KMSPOLICY_CT_CONTEXT, trail_arn } };
	if (r == 0)
		r = envelope_seal(k->ring, key_arn, ctx, 1, gz, len, out, info, NULL, &err);
	if (r < 0)
		snprintf(why, size, "%s: %s", err.name[0] ? err.name : "InternalFailure",
			 err.message);
	return r;
}

int64_t ct_kms_plain_len(const struct store_object_info *info)
{
	const char *v = store_meta_get(info, ENVELOPE_PLAIN_LEN);
	if (!v || !store_meta_get(info, ENVELOPE_KEY_V2))
		return -1;
	char *end;
	long long n = strtoll(v, &end, 10);
	return *v && !*end && n >= 0 ? n : -1;
}

/* Decrypt's record: the request KMS records (the key's ARN, the context). */
static void decrypt_call(const struct envelope_header *h, const char *arn,
			 const struct ct_err *error, struct audit_call *c)
{
	memset(c, 0, sizeof *c);
	c->name = "Decrypt";
	c->read_only = true;
	c->kms_key_arn = arn;
	c->error = error;
	c->request = json_new_object();
	json *context = json_new_object();
	int r = c->request && context ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < h->n_context; i++)
		r = json_add_string(context, h->context[i].key, h->context[i].value);
	if (r == 0) r = json_add_string(c->request, "encryptionAlgorithm", "SYMMETRIC_DEFAULT");
	if (r == 0) r = json_add_string(c->request, "keyId", arn);
	if (r == 0) {
		r = json_add(c->request, "encryptionContext", context);
		context = NULL;
	}
	json_free(context);
}

int ct_kms_open_object(struct ct *ct, const struct ct_caller *who,
		       const struct store_object_info *info, struct buf *obj,
		       struct audit_call *decrypt, char decrypt_arn[KEYRING_ARN_MAX],
		       struct ct_err *err)
{
	if (decrypt)
		memset(decrypt, 0, sizeof *decrypt);
	struct ct_kms *k = ct_kms_of(ct);
	struct envelope_header h;
	memset(&h, 0, sizeof h);
	int r = envelope_parse(info, &h, err);
	if (r == -ENODATA)
		return 0;   /* a plain object */
	if (r < 0) {
		crypto_wipe(obj->data, obj->len);
		return -EIO;
	}
	char arn[KEYRING_ARN_MAX];
	snprintf(arn, sizeof arn, "arn:aws:kms:%s:%s:key/%s", k->region, k->account, h.key_id);
	struct kms_request rq;
	user_request(who, "kms:Decrypt", arn, k->account, &rq);
	rq.context = h.context;
	rq.n_context = h.n_context;
	struct ct_err why;
	ct_err_clear(&why);
	r = keyring_authorize(k->ring, h.key_id, &rq, &why);
	if (r == -EACCES) {
		/* CloudTrail records KMS's denials as errorCode AccessDenied. */
		struct ct_err recorded = why;
		snprintf(recorded.name, sizeof recorded.name, "AccessDenied");
		struct audit_call c;
		decrypt_call(&h, arn, &recorded, &c);
		ct_audit_call(ct, who, &c);
	} else if (r == 0) {
		size_t plain = 0;
		r = envelope_open_inplace(k->ring, &h, (uint8_t *)obj->data, obj->len, &plain, NULL,
					  &why);
		if (r == 0) {
			obj->len = plain;
		} else {
			struct audit_call c;
			decrypt_call(&h, arn, &why, &c);
			ct_audit_call(ct, who, &c);
			/* A key that refuses for now leaves the content intact;
			 * a key gone for good, or bytes that fail the tag, do not. */
			r = !strcmp(why.name, "DisabledException") ||
			    !strcmp(why.name, "KMSInvalidStateException") ? -EACCES : -EIO;
		}
	} else {
		struct audit_call c;
		decrypt_call(&h, arn, &why, &c);
		ct_audit_call(ct, who, &c);
		r = -EIO;   /* no such key: destroyed (or never of this ring) */
	}
	if (r < 0) {
		crypto_wipe(obj->data, obj->len);
		obj->len = 0;
		if (err)
			*err = why;
	} else if (decrypt) {
		snprintf(decrypt_arn, KEYRING_ARN_MAX, "%s", arn);
		decrypt_call(&h, decrypt_arn, NULL, decrypt);
	} else {
		struct audit_call c;
		decrypt_call(&h, arn, NULL, &c);
		ct_audit_call(ct, who, &c);
	}
	envelope_header_release(&h);
	return r;
}
