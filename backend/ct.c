/* The trail engine: registry, buckets and the CloudTrail API calls. */
#include "ct.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "crypto.h"
#include "chains.h"
#include "clock.h"
#include "crypto.h"
#include "ct_kms.h"
#include "errlog.h"
#include "fileio.h"
#include "policy.h"
#include "registry.h"
#include "gz.h"
#include "select.h"
#include "spool.h"
#include "store.h"
#include "validate.h"

#define CT_PATH_MAX 4096
#define CT_REGIONS_MAX 64

const char CT_DEFAULT_REGIONS[] =
	"us-east-1:us-east-2:us-west-1:us-west-2:af-south-1:ap-east-1:ap-east-2:"
	"ap-northeast-1:ap-northeast-2:ap-northeast-3:ap-south-1:ap-south-2:"
	"ap-southeast-1:ap-southeast-2:ap-southeast-3:ap-southeast-4:ap-southeast-5:"
	"ap-southeast-6:ap-southeast-7:ca-central-1:ca-west-1:eu-central-1:eu-central-2:"
	"eu-north-1:eu-south-1:eu-south-2:eu-west-1:eu-west-2:eu-west-3:il-central-1:"
	"me-central-1:me-south-1:mx-central-1:sa-east-1";

struct ct {
	char *state_dir;
	char *registry_path;
	char account[CT_ACCOUNT_LEN + 1];
	char region[CT_REGION_MAX + 1];
	char *regions_text;                 /* storage for regions[] */
	const char *regions[CT_REGIONS_MAX];
	size_t n_regions;
	char *test_clock;
	struct clock clock;
	int lock_fd;
	struct store *store;
	struct errlog errors;
	bool errors_ready;
	struct spool *spool;
	struct delivery *delivery;
	unsigned delivery_interval;
	struct sign *sign;                  /* STATE/signing-keys */
	struct chains *chains;              /* STATE/digests.* */
	uint64_t key_rotation;              /* seconds; 0 = never */
	/* Held across a delivery run and across writing digests, so that a
	 * digest is never built while a run has journaled its files but not
	 * yet moved its cursors: a crash there redoes the run, which tells the
	 * files again, and they must not be in a digest already. */
	pthread_mutex_t cycle_lock;
	struct ct_kms *kms;                 /* the key ring (ct_kms.c) */

	/* The delivery thread: wakes every delivery_interval seconds, or when
	 * poked (a full spool, StopLogging), or to stop. */
	pthread_t deliverer;
	bool deliverer_running;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool wake_now;
	bool wake_digests;        /* a round of digests and keys only, asked by a waiter */
	bool stopping;
	ct_delivered_fn delivered;
	void *delivered_ctx;
	/* Work the thread does for a caller that waits (key generation must
	 * not run on a FUSE callback's thread): ticks_begun counts the
	 * thread's rounds started, ticks_done the last one finished; a caller
	 * pokes and waits on tick_done until a round that began after its
	 * request has finished.  Guarded by wake_lock. */
	uint64_t ticks_begun, ticks_done;
	pthread_cond_t tick_done;
	char rotate_region[CT_REGION_MAX + 1];   /* "" = no rotation asked */
	int rotate_result;
	struct ct_err rotate_err;
	pthread_mutex_t rotate_lock;             /* one on-demand rotation at a time */

	/* Lock order: writer, then lock.  writer serialises every change,
	 * including its disk I/O, so that the registry on disk always matches
	 * what memory will hold; lock guards the in-memory trails and is only
	 * held for copies and swaps, never across I/O, so readers (getattr,
	 * read, readdir) never wait for a disk. */
	pthread_mutex_t writer;
	pthread_rwlock_t lock;
	struct trail *trails;
	size_t n_trails;
};

static void poke_deliverer(struct ct *ct);
static int deliver(struct ct *ct, const char *only);
static int sync_digests(struct ct *ct, const char *without, bool make_keys, bool *deferred,
			struct ct_err *err);
static void digests_after_change(struct ct *ct, const char *without);

/* ---- small helpers ---- */

static char *path_join(const char *dir, const char *name)
{
	struct buf b;
	buf_init(&b, CT_PATH_MAX);
	if (buf_printf(&b, "%s/%s", dir, name) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_take(&b);
}

static int random_bytes(void *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom((char *)p + got, n - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	return 0;
}

const char *ct_account(const struct ct *ct) { return ct->account; }
const char *ct_region(const struct ct *ct) { return ct->region; }
int64_t ct_now(const struct ct *ct) { return clock_now(&ct->clock); }

const char *const *ct_regions(const struct ct *ct, size_t *n)
{
	*n = ct->n_regions;
	return ct->regions;
}

bool ct_region_known(const struct ct *ct, const char *region)
{
	for (size_t i = 0; i < ct->n_regions; i++)
		if (!strcmp(ct->regions[i], region))
			return true;
	return false;
}

/* Index of trail name in ct->trails, or -1.  Caller holds ct->lock. */
static ssize_t find_locked(const struct ct *ct, const char *name)
{
	for (size_t i = 0; i < ct->n_trails; i++)
		if (!strcmp(ct->trails[i].name, name))
			return (ssize_t)i;
	return -1;
}

static int trail_not_found(const struct ct *ct, const char *name, struct ct_err *err)
{
	return ct_fail(err, "TrailNotFoundException", "Unknown trail: %s for the user: %s",
		       name, ct->account);
}

/* Write the registry as it will be with trails[] (a full replacement). */
static int persist(struct ct *ct, const struct trail *trails, size_t n, struct ct_err *err)
{
	return registry_save(ct->registry_path, ct->account, trails, n, err);
}

/* ---- open / close ---- */

static int parse_regions(struct ct *ct, const char *text, struct ct_err *err)
{
	ct->regions_text = strdup(text);
	if (!ct->regions_text)
		return -ENOMEM;
	char *save = NULL;
	for (char *r = strtok_r(ct->regions_text, ":", &save); r; r = strtok_r(NULL, ":", &save)) {
		if (!region_name_valid(r))
			return ct_fail(err, "InvalidParameterException",
				       "regions=: \"%s\" is not a region name (like us-east-1)", r);
		for (size_t i = 0; i < ct->n_regions; i++)
			if (!strcmp(ct->regions[i], r))
				return ct_fail(err, "InvalidParameterException",
					       "regions=: \"%s\" is listed twice", r);
		if (ct->n_regions == CT_REGIONS_MAX)
			return ct_fail(err, "InvalidParameterException",
				       "regions=: more than %d regions", CT_REGIONS_MAX);
		ct->regions[ct->n_regions++] = r;
	}
	if (ct->n_regions == 0)
		return ct_fail(err, "InvalidParameterException", "regions=: no regions given");
	return 0;
}

static int lock_state(struct ct *ct, struct ct_err *err)
{
	char *path = path_join(ct->state_dir, "lock");
	if (!path)
		return -ENOMEM;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int r = ct_fail(err, "StateDirectoryUnusable", "%s: %s", path, strerror(errno));
		free(path);
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		int r = ct_fail(err, "StateDirectoryInUse",
				"state directory %s is in use by another trailfs (pid %s); "
				"unmount it first, or give this one its own -o state=DIR",
				ct->state_dir, pid[0] ? pid : "unknown");
		close(fd);
		free(path);
		return r == -EINVAL ? -EBUSY : r;
	}
	char pid[32];
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0)
		(void)!pwrite(fd, pid, (size_t)len, 0);
	free(path);
	ct->lock_fd = fd;
	return 0;
}

/* The daemon forks after ct_open when it goes to the background; the pid in
 * the lock file is refreshed by whoever serves. */
static int new_account(char out[CT_ACCOUNT_LEN + 1])
{
	unsigned char rnd[CT_ACCOUNT_LEN];
	int r = random_bytes(rnd, sizeof rnd);
	if (r < 0)
		return r;
	for (size_t i = 0; i < CT_ACCOUNT_LEN; i++)
		out[i] = (char)('0' + rnd[i] % 10);
	if (out[0] == '0')
		out[0] = '1';
	out[CT_ACCOUNT_LEN] = '\0';
	return 0;
}

/* The delivery's sealer: a trail with a kms_key has each log file
 * envelope-encrypted with that key (ct_kms_seal); others are stored as
 * they are. */
static int seal_log(void *p, const char *trail, const void *gz, size_t len, struct buf *out,
		    struct store_object_info *info, char *why, size_t size)
{
	struct ct *ct = p;
	char key[CT_ARN_MAX + 1] = "", arn[CT_ARN_MAX + 1] = "";
	pthread_rwlock_rdlock(&ct->lock);
	ssize_t i = find_locked(ct, trail);
	if (i >= 0 && ct->trails[i].kms_key_arn[0]) {
		snprintf(key, sizeof key, "%s", ct->trails[i].kms_key_arn);
		trail_arn(&ct->trails[i], arn, sizeof arn);
	}
	pthread_rwlock_unlock(&ct->lock);
	if (!key[0])
		return 0;
	int r = ct_kms_seal(ct, key, arn, gz, len, out, info, why, size);
	return r < 0 ? r : 1;
}

struct ct *ct_open(const struct ct_options *o, struct ct_err *err)
{
	struct ct *ct = calloc(1, sizeof *ct);
	if (!ct) {
		ct_fail_errno(err, ENOMEM, "trailfs");
		return NULL;
	}
	ct->lock_fd = -1;
	pthread_mutex_init(&ct->writer, NULL);
	pthread_rwlock_init(&ct->lock, NULL);
	pthread_mutex_init(&ct->wake_lock, NULL);
	pthread_cond_init(&ct->wake, NULL);
	pthread_cond_init(&ct->tick_done, NULL);
	pthread_mutex_init(&ct->rotate_lock, NULL);
	pthread_mutex_init(&ct->cycle_lock, NULL);
	ct->delivery_interval = o->delivery_interval ? o->delivery_interval
						     : CT_DELIVERY_INTERVAL_DEFAULT;
	ct->key_rotation = o->key_rotation;
	int r = 0;
	const char *region = o->region ? o->region : "us-east-1";

	if (!o->state_dir || !*o->state_dir) {
		r = ct_fail(err, "InvalidParameterException", "no state directory given (-o state=DIR)");
		goto fail;
	}
	ct->state_dir = strdup(o->state_dir);
	ct->registry_path = path_join(o->state_dir, "registry.json");
	if (!ct->state_dir || !ct->registry_path) {
		r = ct_fail_errno(err, ENOMEM, "trailfs");
		goto fail;
	}
	if ((r = parse_regions(ct, o->regions ? o->regions : CT_DEFAULT_REGIONS, err)) < 0)
		goto fail;
	if (!region_name_valid(region) || strlen(region) > CT_REGION_MAX) {
		r = ct_fail(err, "InvalidParameterException",
			    "region=: \"%s\" is not a region name (like us-east-1)", region);
		goto fail;
	}
	snprintf(ct->region, sizeof ct->region, "%s", region);
	if (!ct_region_known(ct, region)) {
		r = ct_fail(err, "InvalidParameterException",
			    "region=%s is not among the configured regions (regions=)", region);
		goto fail;
	}
	if (o->account && !account_id_valid(o->account)) {
		r = ct_fail(err, "InvalidParameterException",
			    "account=: \"%s\" is not an account id (12 digits)", o->account);
		goto fail;
	}
	if (o->test_clock) {
		int64_t t;
		ct->test_clock = strdup(o->test_clock);
		if (clock_read_file(o->test_clock, &t) < 0) {
			r = ct_fail(err, "InvalidParameterException",
				    "test_clock=%s: the file must exist and hold epoch seconds",
				    o->test_clock);
			goto fail;
		}
		ct->clock.test_file = ct->test_clock;
	}

	r = mkdir_p(o->state_dir, 0700);
	if (r < 0) {
		r = ct_fail(err, "StateDirectoryUnusable", "%s: %s", o->state_dir, strerror(-r));
		goto fail;
	}
	if ((r = lock_state(ct, err)) < 0)
		goto fail;

	/* A kill during a durable write leaves its temporary file behind;
	 * holding the lock, we are the only writer, so they can go. */
	remove_stale_temps(ct->registry_path);

	struct ct_err why;
	ct_err_clear(&why);
	r = registry_load(ct->registry_path, ct->account, &ct->trails, &ct->n_trails, &why);
	if (r == -ENOENT) {
		if (o->account)
			snprintf(ct->account, sizeof ct->account, "%s", o->account);
		else if ((r = new_account(ct->account)) < 0) {
			ct_fail_errno(err, r, "random account id");
			goto fail;
		}
		if ((r = persist(ct, NULL, 0, err)) < 0)
			goto fail;
	} else if (r < 0) {
		if (err)
			*err = why;
		goto fail;
	} else if (o->account && strcmp(o->account, ct->account)) {
		r = ct_fail(err, "InvalidParameterException",
			    "state directory %s belongs to account %s, not account=%s",
			    o->state_dir, ct->account, o->account);
		goto fail;
	}

	char *errors_path = path_join(o->state_dir, "errors.log");
	if (errors_path)
		remove_stale_temps(errors_path);
	r = errors_path ? errlog_init(&ct->errors, errors_path) : -ENOMEM;
	ct->errors_ready = errors_path != NULL;
	free(errors_path);
	if (r < 0) {
		ct_fail_errno(err, r, "errors.log");
		goto fail;
	}

	char *store_dir = o->store_dir ? strdup(o->store_dir) : path_join(o->state_dir, "store");
	if (!store_dir) {
		r = ct_fail_errno(err, ENOMEM, "trailfs");
		goto fail;
	}
	int serr = 0;
	ct->store = store_local_new(store_dir, &serr);
	if (!ct->store) {
		r = ct_fail(err, "StoreUnusable", "store %s: %s", store_dir, strerror(serr < 0 ? -serr : serr));
		free(store_dir);
		goto fail;
	}
	free(store_dir);

	char *spool_dir = path_join(o->state_dir, "spool");
	char damage[512] = "";
	int serr2 = 0;
	ct->spool = spool_dir ? spool_open(spool_dir, o->spool_max ? o->spool_max : SPOOL_DEFAULT_MAX,
					   &serr2, damage, sizeof damage) : NULL;
	if (!ct->spool) {
		r = ct_fail(err, "InvalidStateFile", "spool %s: %s", spool_dir ? spool_dir : "",
			    damage[0] ? damage : strerror(serr2 < 0 ? -serr2 : ENOMEM));
		free(spool_dir);
		goto fail;
	}
	free(spool_dir);
	/* The digest chains hear of every delivered file, the files of the
	 * delivery redone just below included: they open first. */
	char *keys_dir = path_join(o->state_dir, "signing-keys");
	ct->sign = keys_dir ? sign_open(keys_dir, err) : NULL;
	free(keys_dir);
	if (!ct->sign) {
		r = -EINVAL;
		goto fail;
	}
	ct->chains = chains_open(o->state_dir, ct->store, ct->sign,
				 o->digest_interval ? o->digest_interval : CT_DIGEST_INTERVAL_DEFAULT,
				 err);
	if (!ct->chains) {
		r = -EINVAL;
		goto fail;
	}
	ct->kms = ct_kms_open(o->state_dir, ct->account, ct->region, o->key_deletion_days, err);
	if (!ct->kms) {
		r = -EINVAL;
		goto fail;
	}
	ct->delivery = delivery_open_sealed(o->state_dir, ct->spool, ct->store, &ct->clock,
					    chains_delivered, ct->chains, seal_log, ct, err);
	if (!ct->delivery) {
		r = -EINVAL;
		goto fail;
	}
	/* Cursors of trails that are gone (the daemon died between removing
	 * a trail and forgetting its cursor) would pin the spool. */
	const char **names = calloc(ct->n_trails + 1, sizeof *names);
	for (size_t i = 0; names && i < ct->n_trails; i++)
		names[i] = ct->trails[i].name;
	if (names)
		delivery_keep_only(ct->delivery, names, ct->n_trails);
	free(names);
	/* Chains start for trails that digest (a new state, or one from
	 * before digests); keys and due digests wait for the delivery
	 * thread. */
	if ((r = sync_digests(ct, NULL, false, NULL, err)) < 0)
		goto fail;
	return ct;
fail:
	(void)r;
	ct_close(ct);
	return NULL;
}

void ct_close(struct ct *ct)
{
	if (!ct)
		return;
	if (ct->deliverer_running) {
		pthread_mutex_lock(&ct->wake_lock);
		ct->stopping = true;
		pthread_cond_signal(&ct->wake);
		pthread_mutex_unlock(&ct->wake_lock);
		pthread_join(ct->deliverer, NULL);
	}
	delivery_close(ct->delivery);
	chains_close(ct->chains);
	sign_close(ct->sign);
	ct_kms_close(ct->kms);
	spool_close(ct->spool);
	for (size_t i = 0; i < ct->n_trails; i++)
		trail_release(&ct->trails[i]);
	free(ct->trails);
	store_free(ct->store);
	if (ct->errors_ready)
		errlog_release(&ct->errors);
	if (ct->lock_fd >= 0)
		close(ct->lock_fd);
	pthread_rwlock_destroy(&ct->lock);
	pthread_mutex_destroy(&ct->writer);
	pthread_cond_destroy(&ct->wake);
	pthread_cond_destroy(&ct->tick_done);
	pthread_mutex_destroy(&ct->wake_lock);
	pthread_mutex_destroy(&ct->rotate_lock);
	pthread_mutex_destroy(&ct->cycle_lock);
	free(ct->regions_text);
	free(ct->test_clock);
	free(ct->registry_path);
	free(ct->state_dir);
	free(ct);
}

/* ---- audit records of the calls made through the tree ---- */

#define AUDIT_BATCH_MAX 8

/* The records of one action (mkdir of a trail is CreateBucket,
 * PutBucketPolicy, CreateTrail and StartLogging), built while the action
 * runs and spooled together after it has released its locks, with one
 * fdatasync for all of them. */
struct audit_batch {
	const struct ct_caller *who;   /* NULL: an internal call, nothing is recorded */
	struct event ev[AUDIT_BATCH_MAX];
	size_t n;
};

static void audit_init(struct audit_batch *b, const struct ct_caller *who)
{
	b->who = who;
	b->n = 0;
}

/* A record that could not be spooled (the spool is full, the disk failed):
 * the action stands, so say so where people look. */
static void audit_lost(struct ct *ct, const struct ct_caller *who, const char *call,
		       const struct ct_err *err)
{
	char iso[32];
	clock_format_iso(ct_now(ct), iso, sizeof iso);
	struct buf line;
	buf_init(&line, 4096);
	(void)buf_printf(&line, "%s uid=%u audit %s %s: the %s record of this call was not kept: %s",
			 iso, who->uid, call, err->name[0] ? err->name : "InternalFailure", call,
			 err->message);
	errlog_add(&ct->errors, buf_str(&line));
	buf_release(&line);
}

/* Build call's record into the batch (taking what the call owns). */
static void audit_add(struct ct *ct, struct audit_batch *b, struct audit_call *c)
{
	if (!b->who || b->n == AUDIT_BATCH_MAX) {
		audit_call_release(c);
		return;
	}
	const char *call = c->name;
	json *rec = audit_record(ct->account, ct->region, ct_now(ct), b->who, c);
	struct event_ctx ctx;
	ct_event_ctx(ct, NULL, &ctx);
	struct ct_err err;
	ct_err_clear(&err);
	struct event *e = &b->ev[b->n];
	memset(e, 0, sizeof *e);
	int r = rec ? event_normalize(rec, &ctx, e, &err) : ct_fail_errno(&err, ENOMEM, "audit");
	json_free(rec);
	if (r == 0) {
		b->n++;
	} else {
		event_release(e);
		audit_lost(ct, b->who, call, &err);
	}
}

/* Spool the batch's records.  Call with no lock of ours held. */
static void audit_flush(struct ct *ct, struct audit_batch *b)
{
	struct ct_err err;
	ct_err_clear(&err);
	if (b->n && ct_ingest(ct, b->ev, b->n, &err) < 0)
		for (size_t i = 0; i < b->n; i++)
			audit_lost(ct, b->who, b->ev[i].name, &err);
	for (size_t i = 0; i < b->n; i++)
		event_release(&b->ev[i]);
	b->n = 0;
}

static void audit_one(struct ct *ct, const struct ct_caller *who, struct audit_call *c)
{
	struct audit_batch b;
	audit_init(&b, who);
	audit_add(ct, &b, c);
	audit_flush(ct, &b);
}

struct ct_kms *ct_kms_of(struct ct *ct)
{
	return ct->kms;
}

void ct_audit_call(struct ct *ct, const struct ct_caller *who, struct audit_call *c)
{
	/* A service event has no caller; the batch needs one to record. */
	static const struct ct_caller aws_internal = { .user = "AWS Internal" };
	audit_one(ct, c->service_event ? &aws_internal : who, c);
}

/* The ARN of trail name in the home region (trails of other home regions
 * cannot be changed from here, so this is the ARN every call names). */
static void arn_of(const struct ct *ct, const char *name, char *out, size_t size)
{
	snprintf(out, size, "arn:aws:cloudtrail:%s:%s:trail/%s", ct->region, ct->account, name);
}

/* requestParameters naming subject (a trail or a bucket) as call names it. */
static json *request_naming(const struct ct *ct, const char *call, const char *subject)
{
	json *o = json_new_object();
	if (!o)
		return NULL;
	char arn[CT_ARN_MAX + 1];
	int r = 0;
	if (!strcmp(audit_source(call), AUDIT_SOURCE_S3)) {
		if (subject && *subject)
			r = json_add_string(o, "bucketName", subject);
	} else if (!strcmp(audit_source(call), AUDIT_SOURCE_KMS)) {
		/* KMS's calls name their key (CreateAlias its alias). */
		if (subject && *subject)
			r = json_add_string(o, !strcmp(call, "CreateAlias") ? "aliasName" : "keyId",
					    subject);
	} else if (!strcmp(call, "PutEventSelectors") || !strcmp(call, "GetEventSelectors")) {
		r = json_add_string(o, "trailName", subject);
	} else if (!strcmp(call, "AddTags") || !strcmp(call, "RemoveTags")) {
		arn_of(ct, subject, arn, sizeof arn);
		r = json_add_string(o, "resourceId", arn);
	} else if (!strcmp(call, "ListTags")) {
		arn_of(ct, subject, arn, sizeof arn);
		json *list = json_new_array();
		r = list ? json_add(o, "resourceIdList", list) : -ENOMEM;
		if (r == 0)
			r = json_append(list, json_new_string(arn));
	} else if (!strcmp(call, "DescribeTrails")) {
		json *list = json_new_array();
		r = list ? json_add(o, "trailNameList", list) : -ENOMEM;
		if (r == 0)
			r = json_add_bool(o, "includeShadowTrails", true);
	} else {
		r = json_add_string(o, "name", subject);
	}
	if (r < 0) {
		json_free(o);
		return NULL;
	}
	return o;
}

static bool call_is_read(const char *call)
{
	return !strncmp(call, "Get", 3) || !strncmp(call, "List", 4) ||
	       !strncmp(call, "Describe", 8);
}

/* Record a call that names only its subject (GetTrail, DeleteTrail,
 * StartLogging, ...), with no responseElements. */
static void audit_simple(struct ct *ct, struct audit_batch *b, const char *call,
			 const char *subject, const struct ct_err *error)
{
	struct audit_call c = {
		.name = call,
		.read_only = call_is_read(call),
		.request = request_naming(ct, call, subject),
		.error = error,
	};
	audit_add(ct, b, &c);
}

/* The Trail structure as CreateTrail and UpdateTrail answer it: the
 * DescribeTrails members without HomeRegion, HasCustomEventSelectors and
 * HasInsightSelectors, names in lower camel case as CloudTrail records
 * them. */
static json *trail_response(const struct trail *t)
{
	static const char *const skip[] = {
		"HomeRegion", "HasCustomEventSelectors", "HasInsightSelectors", "IsLogging",
		"EventSelectors", "TagsList", NULL,
	};
	json *config = trail_to_config_json(t);
	json *out = config ? json_new_object() : NULL;
	for (json *m = config ? json_first(config) : NULL; out && m; m = json_next(m)) {
		bool skipped = false;
		for (const char *const *k = skip; *k; k++)
			skipped = skipped || !strcmp(json_key(m), *k);
		if (skipped)
			continue;
		char key[64];
		snprintf(key, sizeof key, "%s", json_key(m));
		key[0] = (char)(key[0] - 'A' + 'a');
		json *v = json_dup(m);
		if (!v || json_add(out, key, v) < 0) {
			json_free(out);
			out = NULL;
		}
	}
	json_free(config);
	return out;
}

/* The selectors as PutEventSelectors and GetEventSelectors spell them in
 * a record. */
static json *selectors_record(const struct selectors *sel)
{
	json *j = selectors_to_json(sel);
	json *out = audit_lower_camel(j);
	json_free(j);
	return out;
}

static json *tags_record(const struct tag *tags, size_t n, bool values)
{
	json *arr = json_new_array();
	for (size_t i = 0; arr && i < n; i++) {
		json *o = json_new_object();
		int r = o ? json_append(arr, o) : -ENOMEM;
		if (r == 0)
			r = json_add_string(o, "key", tags[i].key);
		if (r == 0 && values)
			r = json_add_string(o, "value", tags[i].value);
		if (r < 0) {
			json_free(arr);
			arr = NULL;
		}
	}
	return arr;
}

static void audit_tags(struct ct *ct, struct audit_batch *b, const char *call, const char *name,
		       const struct tag *tags, size_t n)
{
	struct audit_call c = { .name = call, .request = request_naming(ct, call, name) };
	json *list = tags_record(tags, n, strcmp(call, "RemoveTags") != 0);
	if (c.request && list)
		(void)json_add(c.request, "tagsList", list);
	else
		json_free(list);
	audit_add(ct, b, &c);
}

/* ---- reading ---- */

static int get_trail(struct ct *ct, const char *name, struct trail *out, struct ct_err *err)
{
	pthread_rwlock_rdlock(&ct->lock);
	ssize_t i = find_locked(ct, name);
	int r = i < 0 ? trail_not_found(ct, name, err) : trail_copy(out, &ct->trails[i]);
	pthread_rwlock_unlock(&ct->lock);
	return r;
}

/* A call's record: a success now; a failure names itself in err, to be
 * recorded when the caller reports it (ct_record_error). */
static void audit_result(struct ct *ct, const struct ct_caller *who, const char *call,
		       const char *subject, int r, struct ct_err *err)
{
	if (r < 0) {
		ct_err_call(err, call, subject);
		return;
	}
	struct audit_batch b;
	audit_init(&b, who);
	audit_simple(ct, &b, call, subject, NULL);
	audit_flush(ct, &b);
}

int ct_get_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		 struct trail *out, struct ct_err *err)
{
	int r = get_trail(ct, name, out, err);
	audit_result(ct, who, "GetTrail", name, r, err);
	return r;
}

bool ct_trail_exists(struct ct *ct, const char *name)
{
	pthread_rwlock_rdlock(&ct->lock);
	bool found = find_locked(ct, name) >= 0;
	pthread_rwlock_unlock(&ct->lock);
	return found;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ct_describe_trails(struct ct *ct, const struct ct_caller *who, char ***names, size_t *n)
{
	pthread_rwlock_rdlock(&ct->lock);
	char **list = calloc(ct->n_trails ? ct->n_trails : 1, sizeof *list);
	size_t count = 0;
	int r = list ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < ct->n_trails; i++) {
		list[i] = strdup(ct->trails[i].name);
		if (!list[i])
			r = -ENOMEM;
		else
			count++;
	}
	pthread_rwlock_unlock(&ct->lock);
	if (r < 0) {
		store_names_free(list, count);
		return r;
	}
	qsort(list, count, sizeof *list, by_string);
	*names = list;
	*n = count;
	audit_result(ct, who, "DescribeTrails", NULL, 0, NULL);
	return 0;
}

int ct_get_event_selectors(struct ct *ct, const struct ct_caller *who, const char *name,
			   struct selectors *out, struct ct_err *err)
{
	struct trail t;
	trail_init(&t);
	int r = get_trail(ct, name, &t, err);
	if (r == 0 && (r = selectors_copy(out, &t.sel)) < 0)
		ct_fail_errno(err, r, "selectors");
	trail_release(&t);
	audit_result(ct, who, "GetEventSelectors", name, r, err);
	return r;
}

void ct_tags_free(struct tag *tags, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(tags[i].key);
		free(tags[i].value);
	}
	free(tags);
}

int ct_list_tags(struct ct *ct, const struct ct_caller *who, const char *name,
		 struct tag **tags, size_t *n, struct ct_err *err)
{
	struct trail t;
	trail_init(&t);
	int r = get_trail(ct, name, &t, err);
	if (r == 0) {
		*tags = t.tags;
		*n = t.n_tags;
		t.tags = NULL;
		t.n_tags = 0;
	}
	trail_release(&t);
	audit_result(ct, who, "ListTags", name, r, err);
	return r;
}

static int add_time(json *o, const char *key, int64_t t)
{
	char iso[32];
	clock_format_iso(t, iso, sizeof iso);
	return json_add_string(o, key, iso);
}

int ct_get_trail_status_json(struct ct *ct, const struct ct_caller *who, const char *name,
			     struct buf *out, struct ct_err *err)
{
	struct trail t;
	trail_init(&t);
	int r = get_trail(ct, name, &t, err);
	if (r < 0) {
		trail_release(&t);
		audit_result(ct, who, "GetTrailStatus", name, r, err);
		return r;
	}
	/* Members in the order the aws CLI prints them (alphabetical). */
	json *o = json_new_object();
	r = o ? json_add_bool(o, "IsLogging", t.logging) : -ENOMEM;
	int64_t delivered = 0;
	char delivery_error[512];
	delivery_status(ct->delivery, name, &delivered, delivery_error, sizeof delivery_error);
	if (r == 0 && *delivery_error)
		r = json_add_string(o, "LatestDeliveryError", delivery_error);
	if (r == 0 && delivered)
		r = add_time(o, "LatestDeliveryTime", delivered);
	int64_t digested = 0;
	char digest_error[CHAINS_ERROR_MAX];
	chains_status(ct->chains, name, &digested, digest_error, sizeof digest_error);
	if (r == 0 && *digest_error)
		r = json_add_string(o, "LatestDigestDeliveryError", digest_error);
	if (r == 0 && digested)
		r = add_time(o, "LatestDigestDeliveryTime", digested);
	if (r == 0 && t.start_logging_time)
		r = add_time(o, "StartLoggingTime", t.start_logging_time);
	if (r == 0 && t.stop_logging_time)
		r = add_time(o, "StopLoggingTime", t.stop_logging_time);
	char *text = r == 0 ? json_print(o, false) : NULL;
	if (r == 0 && !text)
		r = -ENOMEM;
	if (r == 0)
		r = buf_puts(out, text);
	if (r == 0)
		r = buf_putc(out, '\n');
	free(text);
	json_free(o);
	trail_release(&t);
	if (r < 0)
		ct_fail_errno(err, r, "status");
	audit_result(ct, who, "GetTrailStatus", name, r, err);
	return r;
}

/* ---- buckets and their policies ---- */

static int store_err(int r, const char *bucket, struct ct_err *err)
{
	if (r == -ENOENT)
		return ct_fail(err, "NoSuchBucket", "The specified bucket does not exist: %s", bucket);
	return ct_fail_errno(err, r, bucket);
}

/* The record of PutBucketPolicy: the document as requestParameters'
 * bucketPolicy, as S3 records it. */
static void audit_put_policy(struct ct *ct, struct audit_batch *b, const char *bucket,
			     const char *doc, size_t len)
{
	struct audit_call c = { .name = "PutBucketPolicy",
				.request = request_naming(ct, "PutBucketPolicy", bucket) };
	json *policy = json_parse(doc, len, NULL);
	if (c.request && policy)
		(void)json_add(c.request, "bucketPolicy", policy);
	else
		json_free(policy);
	audit_add(ct, b, &c);
}

/* Make sure bucket can take the trail's files: an unknown bucket is created
 * with CloudTrail's policy (the console's "create a new bucket", recorded in
 * b as CreateBucket and PutBucketPolicy); an existing one must have a policy
 * that lets CloudTrail write under the prefix.  Under CT_DRY_RUN nothing is
 * created.  Caller holds ct->writer. */
static int check_or_create_bucket(struct ct *ct, const struct trail *t, unsigned flags,
				  struct audit_batch *b, struct ct_err *err)
{
	char arn[CT_ARN_MAX + 1];
	trail_arn(t, arn, sizeof arn);
	int r = ct->store->ops->bucket_exists(ct->store, t->bucket);
	if (r == -ENOENT) {
		if (flags & CT_DRY_RUN)
			return 0;
		struct buf policy;
		buf_init(&policy, CT_POLICY_MAX);
		r = policy_for_cloudtrail(t->bucket, t->prefix, ct->account, arn, &policy);
		if (r == 0)
			r = ct->store->ops->bucket_create(ct->store, t->bucket);
		if (r == 0) {
			audit_simple(ct, b, "CreateBucket", t->bucket, NULL);
			r = ct->store->ops->policy_put(ct->store, t->bucket, policy.data, policy.len);
		}
		if (r == 0)
			audit_put_policy(ct, b, t->bucket, policy.data, policy.len);
		buf_release(&policy);
		return r < 0 ? ct_fail_errno(err, r, t->bucket) : 0;
	}
	if (r < 0)
		return store_err(r, t->bucket, err);
	struct buf policy;
	buf_init(&policy, CT_POLICY_MAX);
	r = ct->store->ops->policy_get(ct->store, t->bucket, &policy);
	if (r == -ENODATA)
		r = ct_fail(err, "InsufficientS3BucketPolicyException",
			    "Incorrect S3 bucket policy is detected for bucket: %s: the bucket has no "
			    "policy; write one to buckets/%s/policy.json that lets "
			    "cloudtrail.amazonaws.com s3:PutObject on arn:aws:s3:::%s/%s%sAWSLogs/%s/*",
			    t->bucket, t->bucket, t->bucket, t->prefix, *t->prefix ? "/" : "",
			    ct->account);
	else if (r < 0)
		r = store_err(r, t->bucket, err);
	else
		r = policy_allows_cloudtrail(policy.data, policy.len, t->bucket, t->prefix,
					     ct->account, t->home_region, arn, err);
	buf_release(&policy);
	return r;
}

/* A mutating call's end: a success is recorded now, a failure names
 * itself in err.  Returns r. */
static int audit_done(struct ct *ct, const struct ct_caller *who, const char *call,
		      const char *subject, int r, struct ct_err *err)
{
	if (r < 0)
		ct_err_call(err, call, subject);
	else
		audit_result(ct, who, call, subject, 0, NULL);
	return r;
}

int ct_create_bucket(struct ct *ct, const struct ct_caller *who, const char *bucket,
		     struct ct_err *err)
{
	int r = validate_bucket_name_s3(bucket, 0, err);
	if (r == 0) {
		pthread_mutex_lock(&ct->writer);
		r = ct->store->ops->bucket_create(ct->store, bucket);
		pthread_mutex_unlock(&ct->writer);
		if (r == -EEXIST)
			r = ct_fail(err, "BucketAlreadyOwnedByYou",
				    "Your previous request to create the named bucket succeeded and "
				    "you already own it: %s", bucket);
		else if (r < 0)
			r = ct_fail_errno(err, r, bucket);
	}
	return audit_done(ct, who, "CreateBucket", bucket, r, err);
}

int ct_delete_bucket(struct ct *ct, const struct ct_caller *who, const char *bucket,
		     struct ct_err *err)
{
	pthread_mutex_lock(&ct->writer);
	int r = ct->store->ops->bucket_delete(ct->store, bucket);
	pthread_mutex_unlock(&ct->writer);
	if (r == -ENOTEMPTY)
		r = ct_fail(err, "BucketNotEmpty",
			    "The bucket you tried to delete is not empty: %s holds delivered files",
			    bucket);
	else if (r < 0)
		r = store_err(r, bucket, err);
	return audit_done(ct, who, "DeleteBucket", bucket, r, err);
}

int ct_list_buckets(struct ct *ct, const struct ct_caller *who, char ***names, size_t *n)
{
	int r = ct->store->ops->bucket_list(ct->store, names, n);
	if (r == 0)
		audit_result(ct, who, "ListBuckets", NULL, 0, NULL);
	return r;
}

bool ct_bucket_exists(struct ct *ct, const char *bucket)
{
	return ct->store->ops->bucket_exists(ct->store, bucket) == 0;
}

int ct_get_bucket_policy(struct ct *ct, const struct ct_caller *who, const char *bucket,
			 struct buf *out, struct ct_err *err)
{
	int r = ct->store->ops->policy_get(ct->store, bucket, out);
	if (r == -ENODATA) {
		struct ct_err none;
		ct_fail(&none, "NoSuchBucketPolicy", "The bucket policy does not exist");
		struct audit_batch b;
		audit_init(&b, who);
		audit_simple(ct, &b, "GetBucketPolicy", bucket, &none);
		audit_flush(ct, &b);
		if (err)
			*err = none;
		return -ENODATA;
	}
	if (r < 0)
		r = store_err(r, bucket, err);
	audit_result(ct, who, "GetBucketPolicy", bucket, r, err);
	return r;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
			return false;
	return true;
}

int ct_put_bucket_policy(struct ct *ct, const struct ct_caller *who, const char *bucket,
			 const char *doc, size_t len, unsigned flags, struct ct_err *err)
{
	bool delete = all_space(doc, len);
	const char *call = delete ? "DeleteBucketPolicy" : "PutBucketPolicy";
	int r = 0;
	if (!ct_bucket_exists(ct, bucket))
		r = store_err(-ENOENT, bucket, err);
	else if (!delete)
		r = policy_validate(doc, len, bucket, (flags & CT_PARTIAL) != 0, err);
	if (r < 0 || (flags & CT_DRY_RUN)) {
		if (r < 0)
			ct_err_call(err, call, bucket);
		return r;
	}
	pthread_mutex_lock(&ct->writer);
	r = delete ? ct->store->ops->policy_delete(ct->store, bucket)
		   : ct->store->ops->policy_put(ct->store, bucket, doc, len);
	pthread_mutex_unlock(&ct->writer);
	if (r < 0)
		return audit_done(ct, who, call, bucket, store_err(r, bucket, err), err);
	struct audit_batch b;
	audit_init(&b, who);
	if (delete)
		audit_simple(ct, &b, call, bucket, NULL);
	else
		audit_put_policy(ct, &b, bucket, doc, len);
	audit_flush(ct, &b);
	return 0;
}

/* ---- changing trails ---- */

/* CreateTrail's record: the console's request and the Trail it answers. */
static void audit_create_trail(struct ct *ct, struct audit_batch *b, const struct trail *t)
{
	struct audit_call c = { .name = "CreateTrail",
				.request = request_naming(ct, "CreateTrail", t->name),
				.response = trail_response(t) };
	int r = c.request ? 0 : -ENOMEM;
	if (r == 0) r = json_add_string(c.request, "s3BucketName", t->bucket);
	if (r == 0) r = json_add_bool(c.request, "isMultiRegionTrail", t->multi_region);
	if (r == 0) r = json_add_bool(c.request, "includeGlobalServiceEvents", t->global_events);
	if (r == 0) r = json_add_bool(c.request, "enableLogFileValidation", t->validation);
	audit_add(ct, b, &c);
}

int ct_create_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		    struct ct_err *err)
{
	int r = validate_trail_name(name, 0, err);
	if (r < 0)
		return audit_done(ct, who, "CreateTrail", name, r, err);
	struct audit_batch b;
	audit_init(&b, who);
	pthread_mutex_lock(&ct->writer);
	/* Only writers change the trail list, and we are the writer: reading
	 * it without ct->lock is safe here. */
	if (find_locked(ct, name) >= 0) {
		r = ct_fail(err, "TrailAlreadyExistsException",
			    "Trail %s already exists for customer: %s", name, ct->account);
		goto out;
	}
	size_t in_region = 0;
	for (size_t i = 0; i < ct->n_trails; i++)
		if (!strcmp(ct->trails[i].home_region, ct->region))
			in_region++;
	if (in_region >= CT_TRAILS_PER_REGION) {
		r = ct_fail(err, "MaximumNumberOfTrailsExceededException",
			    "User: %s already has %d trails in %s; delete one (rmdir) before "
			    "creating another", ct->account, CT_TRAILS_PER_REGION, ct->region);
		goto out;
	}

	struct trail t;
	trail_init(&t);
	snprintf(t.name, sizeof t.name, "%s", name);
	snprintf(t.home_region, sizeof t.home_region, "%s", ct->region);
	snprintf(t.account, sizeof t.account, "%s", ct->account);
	t.multi_region = true;
	t.global_events = true;
	t.validation = true;
	t.logging = true;
	t.created_time = ct_now(ct);
	t.start_logging_time = t.created_time;
	t.sel.mgmt = RW_ALL;
	/* The console names new buckets aws-cloudtrail-logs-ACCOUNT-XXXXXXXX. */
	for (int attempt = 0; attempt < 16; attempt++) {
		unsigned char rnd[4];
		if ((r = random_bytes(rnd, sizeof rnd)) < 0)
			break;
		snprintf(t.bucket, sizeof t.bucket, "aws-cloudtrail-logs-%s-%02x%02x%02x%02x",
			 ct->account, rnd[0], rnd[1], rnd[2], rnd[3]);
		if (ct->store->ops->bucket_exists(ct->store, t.bucket) == -ENOENT)
			break;
	}
	if (r == 0)
		r = check_or_create_bucket(ct, &t, 0, &b, err);
	else
		ct_fail_errno(err, r, "random bucket name");

	struct trail *grown = NULL;
	if (r == 0) {
		grown = malloc((ct->n_trails + 1) * sizeof *grown);
		if (!grown)
			r = ct_fail_errno(err, ENOMEM, "trailfs");
	}
	if (r == 0) {
		if (ct->n_trails)
			memcpy(grown, ct->trails, ct->n_trails * sizeof *grown);
		grown[ct->n_trails] = t;
		r = persist(ct, grown, ct->n_trails + 1, err);
	}
	if (r == 0) {
		audit_create_trail(ct, &b, &t);
		audit_simple(ct, &b, "StartLogging", name, NULL);
		pthread_rwlock_wrlock(&ct->lock);
		free(ct->trails);
		ct->trails = grown;
		ct->n_trails++;
		pthread_rwlock_unlock(&ct->lock);
	} else {
		free(grown);
		trail_release(&t);
	}
out:
	pthread_mutex_unlock(&ct->writer);
	/* A bucket made for a trail that then failed stays, as on AWS, and so
	 * do its records. */
	audit_flush(ct, &b);
	if (r == 0)
		digests_after_change(ct, NULL);
	if (r < 0)
		ct_err_call(err, "CreateTrail", name);
	return r;
}

int ct_delete_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		    struct ct_err *err)
{
	pthread_mutex_lock(&ct->writer);
	int r = 0;
	ssize_t i = find_locked(ct, name);
	if (i < 0) {
		r = trail_not_found(ct, name, err);
		goto out;
	}
	if (strcmp(ct->trails[i].home_region, ct->region)) {
		r = ct_fail(err, "InvalidHomeRegionException",
			    "trail %s has home region %s; delete it from a trailfs running with "
			    "region=%s", name, ct->trails[i].home_region, ct->trails[i].home_region);
		goto out;
	}
	/* DeleteTrail delivers what was accepted for the trail, then removes
	 * it.  The delivery takes its own lock, not ct->lock. */
	struct delivery_target target = { ct->trails[i].name, ct->trails[i].bucket,
					   ct->trails[i].prefix, ct->account };
	pthread_mutex_lock(&ct->cycle_lock);
	r = delivery_run(ct->delivery, &target, 1, name, NULL, NULL);
	pthread_mutex_unlock(&ct->cycle_lock);
	if (r < 0) {
		r = ct_fail_errno(err, r, "delivering the trail's last records");
		goto out;
	}
	struct trail *shrunk = malloc((ct->n_trails ? ct->n_trails : 1) * sizeof *shrunk);
	if (!shrunk) {
		r = ct_fail_errno(err, ENOMEM, "trailfs");
		goto out;
	}
	size_t k = 0;
	for (size_t j = 0; j < ct->n_trails; j++)
		if ((ssize_t)j != i)
			shrunk[k++] = ct->trails[j];
	r = persist(ct, shrunk, k, err);
	if (r < 0) {
		free(shrunk);
		goto out;
	}
	struct trail gone = ct->trails[i];
	pthread_rwlock_wrlock(&ct->lock);
	free(ct->trails);
	ct->trails = shrunk;
	ct->n_trails = k;
	pthread_rwlock_unlock(&ct->lock);
	delivery_forget(ct->delivery, gone.name);
	/* The trail's chains end with a final digest, written before
	 * DeleteTrail returns; then its digest status goes. */
	digests_after_change(ct, NULL);
	chains_forget(ct->chains, gone.name, NULL);
	trail_release(&gone);
out:
	pthread_mutex_unlock(&ct->writer);
	return audit_done(ct, who, "DeleteTrail", name, r, err);
}

/* Resolve a topic, key or log group that trailfs does not have yet.  Later
 * issues add /topics, /keys and /loggroups; until then nothing exists, and a
 * trail must never believe it notifies or encrypts when it does not. */
static int set_sns_topic(struct ct *ct, struct trail *next, const char *v, struct ct_err *err)
{
	(void)ct;
	if (!*v) {
		next->sns_topic_arn[0] = '\0';
		return 0;
	}
	int r = validate_sns_topic(v, 0, err);
	if (r < 0)
		return r;
	return ct_fail(err, "InsufficientSnsTopicPolicyException",
		       "SNS Topic does not exist or the topic policy is incorrect! There is no "
		       "topic %s (trailfs has no notification topics yet); leave sns_topic empty", v);
}

/* What a kms_key change still needs once every other check has passed: a
 * new key for an alias that does not exist yet (the console's "create a new
 * KMS key"), made then so that a change that fails makes no key. */
struct kms_plan {
	bool create;
	char alias[KEYRING_ALIAS_MAX + 1];
};

/* kms_key: the key must exist, be Enabled and let CloudTrail encrypt for
 * this trail (ct_kms_trail_key); the trail keeps the key's ARN, as
 * GetTrail's KmsKeyId shows it. */
static int set_kms_key(struct ct *ct, struct trail *next, const char *v, struct kms_plan *kp,
		       struct ct_err *err)
{
	kp->create = false;
	if (!*v) {
		next->kms_key_arn[0] = '\0';
		return 0;
	}
	int r = validate_kms_key_id(v, 0, err);
	if (r < 0)
		return r;
	char arn[CT_ARN_MAX + 1], key[KEYRING_ARN_MAX];
	trail_arn(next, arn, sizeof arn);
	r = ct_kms_trail_key(ct, v, arn, key, &kp->create, kp->alias, err);
	if (r == 0 && !kp->create)
		snprintf(next->kms_key_arn, sizeof next->kms_key_arn, "%s", key);
	return r;
}

static int set_log_group(struct ct *ct, struct trail *next, const char *v, struct ct_err *err)
{
	(void)ct;
	if (!*v) {
		next->log_group_arn[0] = '\0';
		return 0;
	}
	char group[CT_LOG_GROUP_MAX + 1];
	int r = validate_log_group_arn(v, group, err);
	if (r < 0)
		return r;
	return ct_fail(err, "InvalidCloudWatchLogsLogGroupArnException",
		       "log group %s does not exist (trailfs has no log groups yet); leave "
		       "cloudwatch_logs_group empty", group);
}

static int apply_update(struct ct *ct, struct trail *next, const struct ct_update *u,
			bool *bucket_check, struct kms_plan *kp, struct ct_err *err)
{
	int r = 0;
	if (u->bucket && strcmp(u->bucket, next->bucket)) {
		if ((r = validate_bucket_name_cloudtrail(u->bucket, 0, err)) < 0)
			return r;
		snprintf(next->bucket, sizeof next->bucket, "%s", u->bucket);
		*bucket_check = true;
	}
	if (u->prefix && strcmp(u->prefix, next->prefix)) {
		if ((r = validate_s3_prefix(u->prefix, 0, err)) < 0)
			return r;
		snprintf(next->prefix, sizeof next->prefix, "%s", u->prefix);
		*bucket_check = true;
	}
	/* A value equal to the current one is no change: writing config.json
	 * back unedited must not re-check what is already set. */
	if (u->sns_topic && strcmp(u->sns_topic, next->sns_topic_arn) &&
	    (r = set_sns_topic(ct, next, u->sns_topic, err)) < 0)
		return r;
	if (u->kms_key && strcmp(u->kms_key, next->kms_key_arn) &&
	    (r = set_kms_key(ct, next, u->kms_key, kp, err)) < 0)
		return r;
	if (u->log_group_arn && strcmp(u->log_group_arn, next->log_group_arn) &&
	    (r = set_log_group(ct, next, u->log_group_arn, err)) < 0)
		return r;
	if (u->log_role_arn) {
		if (*u->log_role_arn && (r = validate_log_role_arn(u->log_role_arn, err)) < 0)
			return r;
		snprintf(next->log_role_arn, sizeof next->log_role_arn, "%s", u->log_role_arn);
	}
	if (u->multi_region >= 0)
		next->multi_region = u->multi_region;
	if (u->global_events >= 0)
		next->global_events = u->global_events;
	if (u->validation >= 0)
		next->validation = u->validation;
	if (*next->log_role_arn && !*next->log_group_arn)
		return ct_fail(err, "InvalidCloudWatchLogsLogGroupArnException",
			       "a CloudWatchLogsRoleArn needs a CloudWatchLogsLogGroupArn beside it");
	if (next->multi_region && !next->global_events)
		return ct_fail(err, "InvalidParameterCombinationException",
			       "Multi-Region trail must include global service events. Set "
			       "multi_region to no first, or keep global_service_events yes");
	return 0;
}

static int apply_tags(struct trail *next, enum ct_tag_op op, const struct tag *tags, size_t n,
		      struct ct_err *err)
{
	for (size_t i = 0; op != CT_TAGS_REMOVE && i < n; i++) {
		int r = validate_tag(tags[i].key, tags[i].value, err);
		if (r < 0)
			return r;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(tags[k].key, tags[i].key))
				return ct_fail(err, "InvalidTagParameterException",
					       "tag key \"%s\" is given twice", tags[i].key);
	}
	if (op == CT_TAGS_REPLACE)
		trail_clear_tags(next);
	for (size_t i = 0; i < n; i++) {
		if (op == CT_TAGS_REMOVE)
			trail_remove_tag(next, tags[i].key);
		else if (trail_set_tag(next, tags[i].key, tags[i].value) < 0)
			return ct_fail_errno(err, ENOMEM, "tags");
	}
	if (next->n_tags > CT_TAGS_MAX)
		return ct_fail(err, "TagsLimitExceededException",
			       "a trail can have at most %d tags; this would give it %zu",
			       CT_TAGS_MAX, next->n_tags);
	return 0;
}

/* Replace the chosen parts of the trail's selectors (PutEventSelectors
 * replaces all of them; the per-file settings replace one part each). */
static int apply_selectors(struct trail *next, const struct selectors *sel, unsigned parts,
			   struct ct_err *err)
{
	if (!parts)
		parts = CT_SEL_MGMT | CT_SEL_EXCLUDE | CT_SEL_DATA;
	if (parts & CT_SEL_MGMT)
		next->sel.mgmt = sel->mgmt;
	if (parts & CT_SEL_EXCLUDE) {
		next->sel.exclude_kms = sel->exclude_kms;
		next->sel.exclude_rdsdata = sel->exclude_rdsdata;
	}
	if (parts & CT_SEL_DATA) {
		struct selectors data = { 0 };
		size_t counted = 0;
		for (size_t i = 0; i < sel->n_res; i++) {
			if (!data_resource_is_all(sel->res[i].value))
				counted++;
			if (selectors_add_resource(&data, sel->res[i].type, sel->res[i].value,
						   sel->res[i].rw) < 0) {
				selectors_release(&data);
				return ct_fail_errno(err, ENOMEM, "selectors");
			}
		}
		if (counted > CT_DATA_RESOURCES_MAX) {
			selectors_release(&data);
			return ct_fail(err, "InvalidEventSelectorsException",
				       "a trail can select at most %d data resources (not counting "
				       "all-resource values like arn:aws:s3); this would give it %zu",
				       CT_DATA_RESOURCES_MAX, counted);
		}
		for (size_t i = 0; i < next->sel.n_res; i++) {
			free(next->sel.res[i].type);
			free(next->sel.res[i].value);
		}
		free(next->sel.res);
		next->sel.res = data.res;
		next->sel.n_res = data.n_res;
	}
	return 0;
}

/* UpdateTrail's record: the members the change named, and the Trail it
 * answers. */
static void audit_update_trail(struct ct *ct, struct audit_batch *b, const struct ct_update *u,
			       const struct trail *t)
{
	struct audit_call c = { .name = "UpdateTrail",
				.request = request_naming(ct, "UpdateTrail", t->name),
				.response = trail_response(t) };
	const struct { const char *key; const char *value; } strings[] = {
		{ "s3BucketName", u->bucket }, { "s3KeyPrefix", u->prefix },
		{ "snsTopicName", u->sns_topic }, { "kmsKeyId", u->kms_key },
		{ "cloudWatchLogsLogGroupArn", u->log_group_arn },
		{ "cloudWatchLogsRoleArn", u->log_role_arn },
	};
	const struct { const char *key; int value; } flags[] = {
		{ "isMultiRegionTrail", u->multi_region },
		{ "includeGlobalServiceEvents", u->global_events },
		{ "enableLogFileValidation", u->validation },
	};
	int r = c.request ? 0 : -ENOMEM;
	for (size_t k = 0; r == 0 && k < sizeof strings / sizeof *strings; k++)
		if (strings[k].value)
			r = json_add_string(c.request, strings[k].key, strings[k].value);
	for (size_t k = 0; r == 0 && k < sizeof flags / sizeof *flags; k++)
		if (flags[k].value >= 0)
			r = json_add_bool(c.request, flags[k].key, flags[k].value);
	audit_add(ct, b, &c);
}

static void audit_put_selectors(struct ct *ct, struct audit_batch *b, const struct trail *t)
{
	char arn[CT_ARN_MAX + 1];
	trail_arn(t, arn, sizeof arn);
	struct audit_call c = { .name = "PutEventSelectors",
				.request = request_naming(ct, "PutEventSelectors", t->name),
				.response = json_new_object() };
	int r = c.request && c.response ? 0 : -ENOMEM;
	if (r == 0) r = json_add(c.request, "eventSelectors", selectors_record(&t->sel));
	if (r == 0) r = json_add_string(c.response, "trailARN", arn);
	if (r == 0) r = json_add(c.response, "eventSelectors", selectors_record(&t->sel));
	audit_add(ct, b, &c);
}

/* The tag calls of a change: AddTags with what it sets, RemoveTags with the
 * keys it drops (for a replaced set: the keys of old that next lacks). */
static void audit_tag_change(struct ct *ct, struct audit_batch *b, const struct ct_change *c,
			     const struct trail *old, const struct trail *next)
{
	if (c->tag_op == CT_TAGS_ADD || c->tag_op == CT_TAGS_REMOVE) {
		audit_tags(ct, b, c->tag_op == CT_TAGS_ADD ? "AddTags" : "RemoveTags", next->name,
			   c->tags, c->n_tags);
		return;
	}
	struct tag *gone = calloc(old->n_tags + 1, sizeof *gone);
	size_t n_gone = 0;
	for (size_t i = 0; gone && i < old->n_tags; i++) {
		bool kept = false;
		for (size_t k = 0; k < next->n_tags && !kept; k++)
			kept = !strcmp(next->tags[k].key, old->tags[i].key);
		if (!kept)
			gone[n_gone++] = old->tags[i];
	}
	/* Writing the same set again is still an AddTags call. */
	if (next->n_tags || !n_gone)
		audit_tags(ct, b, "AddTags", next->name, next->tags, next->n_tags);
	if (n_gone)
		audit_tags(ct, b, "RemoveTags", next->name, gone, n_gone);
	free(gone);
}

int ct_apply(struct ct *ct, const struct ct_caller *who, const char *name,
	     const struct ct_change *c, unsigned flags, struct ct_err *err)
{
	/* The call a failure is recorded as: the part of the change that
	 * failed, or its first part when the trail itself is wrong. */
	const char *stage = c->update ? "UpdateTrail" : c->selectors ? "PutEventSelectors"
		: c->tag_op == CT_TAGS_REMOVE ? "RemoveTags" : c->tag_op != CT_TAGS_KEEP ? "AddTags"
		: c->logging == 0 ? "StopLogging" : "StartLogging";
	struct audit_batch b;
	audit_init(&b, flags & CT_DRY_RUN ? NULL : who);
	bool stopped = false, changed = false;
	pthread_mutex_lock(&ct->writer);
	struct trail next;
	trail_init(&next);
	int r = 0;
	ssize_t i = find_locked(ct, name);
	if (i < 0) {
		r = trail_not_found(ct, name, err);
		goto out;
	}
	if (strcmp(ct->trails[i].home_region, ct->region)) {
		r = ct_fail(err, "InvalidHomeRegionException",
			    "trail %s has home region %s; change it from a trailfs running with "
			    "region=%s", name, ct->trails[i].home_region, ct->trails[i].home_region);
		goto out;
	}
	if ((r = trail_copy(&next, &ct->trails[i])) < 0) {
		ct_fail_errno(err, r, "trailfs");
		goto out;
	}
	bool bucket_check = false;
	struct kms_plan kp = { .create = false };
	if (c->update && (r = apply_update(ct, &next, c->update, &bucket_check, &kp, err)) < 0)
		goto out;
	if (c->selectors) {
		stage = "PutEventSelectors";
		if ((r = apply_selectors(&next, c->selectors, c->selector_parts, err)) < 0)
			goto out;
	}
	if (c->tag_op != CT_TAGS_KEEP) {
		stage = c->tag_op == CT_TAGS_REMOVE ? "RemoveTags" : "AddTags";
		if ((r = apply_tags(&next, c->tag_op, c->tags, c->n_tags, err)) < 0)
			goto out;
	}
	if (c->logging >= 0 && (bool)c->logging != next.logging) {
		next.logging = c->logging;
		if (next.logging)
			next.start_logging_time = ct_now(ct);
		else
			next.stop_logging_time = ct_now(ct);
	}
	stage = "UpdateTrail";   /* the bucket check belongs to the bucket or prefix change */
	if (bucket_check && (r = check_or_create_bucket(ct, &next, flags, &b, err)) < 0)
		goto out;
	if (flags & CT_DRY_RUN)
		goto out;
	if (kp.create) {
		char tarn[CT_ARN_MAX + 1], key[KEYRING_ARN_MAX];
		struct audit_call calls[2];
		size_t n_calls = 0;
		trail_arn(&next, tarn, sizeof tarn);
		r = ct_kms_create_for_trail(ct, b.who, kp.alias, tarn, key, calls, &n_calls, err);
		if (r < 0)
			goto out;
		snprintf(next.kms_key_arn, sizeof next.kms_key_arn, "%s", key);
		for (size_t k = 0; k < n_calls; k++)
			audit_add(ct, &b, &calls[k]);
	}

	/* Persist the list as it will be, then swap the new trail in. */
	struct trail *list = malloc(ct->n_trails * sizeof *list);
	if (!list) {
		r = ct_fail_errno(err, ENOMEM, "trailfs");
		goto out;
	}
	memcpy(list, ct->trails, ct->n_trails * sizeof *list);
	list[i] = next;
	r = persist(ct, list, ct->n_trails, err);
	free(list);
	if (r < 0)
		goto out;
	pthread_rwlock_wrlock(&ct->lock);
	struct trail old = ct->trails[i];
	ct->trails[i] = next;
	pthread_rwlock_unlock(&ct->lock);
	/* The calls the change was, in the order the API would make them. */
	if (c->update)
		audit_update_trail(ct, &b, c->update, &next);
	if (c->selectors)
		audit_put_selectors(ct, &b, &next);
	if (c->tag_op != CT_TAGS_KEEP)
		audit_tag_change(ct, &b, c, &old, &next);
	if (c->logging >= 0)
		audit_simple(ct, &b, c->logging ? "StartLogging" : "StopLogging", name, NULL);
	stopped = old.logging && !next.logging;
	changed = true;
	trail_release(&old);
	trail_init(&next);
out:
	pthread_mutex_unlock(&ct->writer);
	trail_release(&next);
	audit_flush(ct, &b);
	/* StopLogging delivers what was accepted before it, before it returns:
	 * when `echo off > logging` is done, so are the trail's files.  A
	 * failure shows in LatestDeliveryError, and the records stay spooled
	 * for the next run. */
	if (stopped)
		(void)deliver(ct, name);
	/* Chains start and end as the trail now says (StopLogging's final
	 * digest is written before it returns). */
	if (changed)
		digests_after_change(ct, NULL);
	if (r < 0)
		ct_err_call(err, stage, name);
	return r;
}

int ct_update_trail(struct ct *ct, const struct ct_caller *who, const char *name,
		    const struct ct_update *u, unsigned flags, struct ct_err *err)
{
	struct ct_change c = { .update = u, .logging = -1 };
	return ct_apply(ct, who, name, &c, flags, err);
}

int ct_start_logging(struct ct *ct, const struct ct_caller *who, const char *name,
		     unsigned flags, struct ct_err *err)
{
	struct ct_change c = { .logging = 1 };
	return ct_apply(ct, who, name, &c, flags, err);
}

int ct_stop_logging(struct ct *ct, const struct ct_caller *who, const char *name,
		    unsigned flags, struct ct_err *err)
{
	struct ct_change c = { .logging = 0 };
	return ct_apply(ct, who, name, &c, flags, err);
}

int ct_put_event_selectors(struct ct *ct, const struct ct_caller *who, const char *name,
			   const struct selectors *sel, unsigned flags, struct ct_err *err)
{
	struct ct_change c = { .selectors = sel, .logging = -1 };
	return ct_apply(ct, who, name, &c, flags, err);
}

int ct_add_tags(struct ct *ct, const struct ct_caller *who, const char *name,
		const struct tag *tags, size_t n, unsigned flags, struct ct_err *err)
{
	struct ct_change c = { .tag_op = CT_TAGS_ADD, .tags = tags, .n_tags = n, .logging = -1 };
	return ct_apply(ct, who, name, &c, flags, err);
}

int ct_remove_tags(struct ct *ct, const struct ct_caller *who, const char *name,
		   const struct tag *tags, size_t n, unsigned flags, struct ct_err *err)
{
	struct ct_change c = { .tag_op = CT_TAGS_REMOVE, .tags = tags, .n_tags = n, .logging = -1 };
	return ct_apply(ct, who, name, &c, flags, err);
}

/* ---- /errors ---- */

void ct_record_error(struct ct *ct, const struct ct_caller *who, const char *op,
		     const char *path, const struct ct_err *err)
{
	if (who && err->call[0]) {
		struct audit_batch b;
		audit_init(&b, who);
		audit_simple(ct, &b, err->call, err->subject, err);
		audit_flush(ct, &b);
	}
	char iso[32];
	clock_format_iso(ct_now(ct), iso, sizeof iso);
	struct buf line;
	buf_init(&line, 4096);
	(void)buf_printf(&line, "%s uid=%u %s %s %s: %s", iso, who ? who->uid : 0u, op, path,
			 err->name[0] ? err->name : "InternalFailure", err->message);
	errlog_add(&ct->errors, buf_str(&line));
	buf_release(&line);
}

int ct_render_errors(struct ct *ct, struct buf *out)
{
	return errlog_render(&ct->errors, out);
}

/* ---- events ---- */

void ct_event_ctx(const struct ct *ct, const struct ingest_who *who, struct event_ctx *out)
{
	out->account = ct->account;
	out->regions = ct->regions;
	out->n_regions = ct->n_regions;
	out->who = who;
}

static void poke_deliverer(struct ct *ct)
{
	pthread_mutex_lock(&ct->wake_lock);
	ct->wake_now = true;
	pthread_cond_signal(&ct->wake);
	pthread_mutex_unlock(&ct->wake_lock);
}

#define INGEST_BATCH_MAX (64u * 1024 * 1024)

int ct_ingest(struct ct *ct, const struct event *events, size_t n, struct ct_err *err)
{
	if (n == 0)
		return 0;
	struct buf frames;
	buf_init(&frames, INGEST_BATCH_MAX);
	size_t *ends = malloc(n * sizeof *ends);
	struct spool_item *items = malloc(n * sizeof *items);
	const char **names = NULL;
	int r = ends && items ? 0 : -ENOMEM;

	/* Route under the read lock: records go to the trails as they are
	 * configured when the records are accepted, as on AWS. */
	pthread_rwlock_rdlock(&ct->lock);
	names = calloc(ct->n_trails + 1, sizeof *names);
	if (!names)
		r = -ENOMEM;
	/* A record no trail takes is dropped here: it would only hold spool
	 * space (and cost a sync) until a run skipped it. */
	size_t m = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t k = 0;
		for (size_t t = 0; t < ct->n_trails; t++)
			if (select_matches(&ct->trails[t], &events[i]))
				names[k++] = ct->trails[t].name;
		if (k == 0)
			continue;
		r = delivery_frame(&events[i], names, k, &frames);
		ends[m++] = frames.len;
	}
	pthread_rwlock_unlock(&ct->lock);

	for (size_t i = 0; r == 0 && i < m; i++) {
		size_t start = i ? ends[i - 1] : 0;
		items[i].payload = frames.data + start;
		items[i].len = ends[i] - start;
	}
	uint64_t first;
	if (r == 0 && m)
		r = spool_append(ct->spool, items, m, &first);
	free(names);
	free(items);
	free(ends);
	buf_release(&frames);
	if (r == -ENOSPC) {
		/* Not an AWS error, so not an errno by family: the shell must
		 * say "No space left on device". */
		ct_fail(err, "SpoolFull", "the spool is full (spool_max); nothing of this write was "
			"accepted: wait for the next delivery, or raise -o spool_max");
		return -ENOSPC;
	}
	if (r == -E2BIG)
		return ct_fail(err, "InvalidEventException", "one write carries more than %u bytes of "
			       "records; write less at a time", INGEST_BATCH_MAX);
	if (r < 0)
		return ct_fail_errno(err, r, "spool");
	if (delivery_pending_bytes(ct->delivery) > DELIVERY_SIZE_CAP)
		poke_deliverer(ct);
	return 0;
}

/* Where each trail delivers, copied so a run needs no lock of ours. */
struct targets {
	struct delivery_target *v;
	struct trail *copies;
	size_t n;
};

static int targets_take(struct ct *ct, struct targets *t)
{
	pthread_rwlock_rdlock(&ct->lock);
	t->n = ct->n_trails;
	t->v = calloc(t->n + 1, sizeof *t->v);
	t->copies = calloc(t->n + 1, sizeof *t->copies);
	int r = t->v && t->copies ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < t->n; i++) {
		struct trail *c = &t->copies[i];
		memcpy(c->name, ct->trails[i].name, sizeof c->name);
		memcpy(c->bucket, ct->trails[i].bucket, sizeof c->bucket);
		memcpy(c->prefix, ct->trails[i].prefix, sizeof c->prefix);
		t->v[i] = (struct delivery_target){ c->name, c->bucket, c->prefix, ct->account };
	}
	pthread_rwlock_unlock(&ct->lock);
	return r;
}

static void targets_release(struct targets *t)
{
	free(t->v);
	free(t->copies);
}

static int deliver(struct ct *ct, const char *only)
{
	struct targets t;
	int r = targets_take(ct, &t);
	struct delivered_file *files = NULL;
	size_t n = 0;
	if (r == 0) {
		pthread_mutex_lock(&ct->cycle_lock);
		r = delivery_run(ct->delivery, t.v, t.n, only, &files, &n);
		pthread_mutex_unlock(&ct->cycle_lock);
	}
	if (n && ct->delivered)
		ct->delivered(ct->delivered_ctx, files, n);
	delivered_files_free(files, n);
	targets_release(&t);
	return r;
}

int ct_deliver_now(struct ct *ct, const char *only_trail)
{
	return deliver(ct, only_trail);
}

/* ---- digests ---- */

/* The chains the trails want: every trail that logs with validation on,
 * in every configured region when multi-region, else its home region. */
struct wants {
	struct chain_want *v;
	size_t n;
	struct trail *copies;
	size_t n_copies;
};

static int wants_take(struct ct *ct, const char *without, struct wants *w)
{
	memset(w, 0, sizeof *w);
	pthread_rwlock_rdlock(&ct->lock);
	w->copies = calloc(ct->n_trails + 1, sizeof *w->copies);
	size_t total = 0;
	for (size_t i = 0; i < ct->n_trails; i++)
		total += ct->trails[i].multi_region ? ct->n_regions : 1;
	w->v = calloc(total + 1, sizeof *w->v);
	int r = w->copies && w->v ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < ct->n_trails; i++) {
		const struct trail *t = &ct->trails[i];
		if (!t->logging || !t->validation || (without && !strcmp(t->name, without)))
			continue;
		struct trail *c = &w->copies[w->n_copies++];
		memcpy(c->name, t->name, sizeof c->name);
		memcpy(c->bucket, t->bucket, sizeof c->bucket);
		memcpy(c->prefix, t->prefix, sizeof c->prefix);
		memcpy(c->home_region, t->home_region, sizeof c->home_region);
		for (size_t k = 0; k < (t->multi_region ? ct->n_regions : 1); k++)
			w->v[w->n++] = (struct chain_want){ c->name,
				t->multi_region ? ct->regions[k] : c->home_region, c->bucket, c->prefix,
				ct->account, c->home_region };
	}
	pthread_rwlock_unlock(&ct->lock);
	return r;
}

static void wants_release(struct wants *w)
{
	free(w->v);
	free(w->copies);
}

static int sync_digests(struct ct *ct, const char *without, bool make_keys, bool *deferred,
			struct ct_err *err)
{
	struct wants w;
	int r = wants_take(ct, without, &w);
	/* Keys are made before, outside cycle_lock: deliveries do not wait
	 * for them. */
	int64_t now = ct_now(ct);
	if (r == 0 && make_keys)
		r = chains_prepare_keys(ct->chains, w.v, w.n, now, err);
	else if (r < 0)
		ct_fail_errno(err, r, "digests");
	wants_release(&w);
	/* What the trails want is read again under cycle_lock, which a change
	 * holds while it records its chains' ends (digests_after_change): a
	 * want read before a StopLogging and applied after it would start the
	 * stopped trail's chain again. */
	if (r == 0) {
		pthread_mutex_lock(&ct->cycle_lock);
		r = wants_take(ct, without, &w);
		if (r == 0)
			r = chains_sync(ct->chains, w.v, w.n, now, false, deferred, err);
		else
			ct_fail_errno(err, r, "digests");
		wants_release(&w);
		pthread_mutex_unlock(&ct->cycle_lock);
	}
	return r;
}

/* Have the delivery thread run a round, and wait until one that began
 * after this call has finished.  false when no thread runs. */
static bool run_on_deliverer(struct ct *ct)
{
	pthread_mutex_lock(&ct->wake_lock);
	if (!ct->deliverer_running || ct->stopping) {
		pthread_mutex_unlock(&ct->wake_lock);
		return false;
	}
	uint64_t target = ct->ticks_begun + 1;
	ct->wake_digests = true;
	pthread_cond_signal(&ct->wake);
	while (ct->ticks_done < target && !ct->stopping)
		pthread_cond_wait(&ct->tick_done, &ct->wake_lock);
	bool done = ct->ticks_done >= target;
	pthread_mutex_unlock(&ct->wake_lock);
	return done;
}

/* After a change to the trails: chains start and end now, so that a final
 * digest (StopLogging, DeleteTrail, validation off, a new location) covers
 * its window up to this moment and the next chain starts here.  The
 * digests are written on the delivery thread, which may have to make a
 * region's first key (never on a FUSE thread); when there are final
 * digests to write, this waits for that round, so that they are there when
 * StopLogging or DeleteTrail returns.  A chain ending with nothing to
 * attest (a trail stopped or deleted before its first digest, with no
 * files) writes none and costs no wait.  Without the thread the digests
 * are written here.  Failures show in LatestDigestDeliveryError or are
 * retried; the change itself stands. */
static void digests_after_change(struct ct *ct, const char *without)
{
	pthread_mutex_lock(&ct->wake_lock);
	bool thread = ct->deliverer_running && !ct->stopping;
	pthread_mutex_unlock(&ct->wake_lock);
	if (!thread) {
		(void)sync_digests(ct, without, true, NULL, NULL);
		return;
	}
	struct wants w;
	bool finals = false;
	pthread_mutex_lock(&ct->cycle_lock);
	if (wants_take(ct, without, &w) == 0)
		(void)chains_record(ct->chains, w.v, w.n, ct_now(ct), &finals, NULL);
	wants_release(&w);
	pthread_mutex_unlock(&ct->cycle_lock);
	if (finals) {
		(void)run_on_deliverer(ct);
		return;
	}
	/* Chains that only started: the thread's round checks for digests
	 * due; they are saved before their first journal line. */
	pthread_mutex_lock(&ct->wake_lock);
	ct->wake_digests = true;
	pthread_cond_signal(&ct->wake);
	pthread_mutex_unlock(&ct->wake_lock);
}

static void rotate_due(struct ct *ct);

int ct_write_digests(struct ct *ct, struct ct_err *err)
{
	rotate_due(ct);
	return sync_digests(ct, NULL, true, NULL, err);
}

/* Rotate each region whose key is older than key_rotation (regions with a
 * running chain only: a key nobody signs with need not turn over). */
static void rotate_due(struct ct *ct)
{
	if (!ct->key_rotation)
		return;
	struct wants w;
	if (wants_take(ct, NULL, &w) == 0) {
		int64_t now = ct_now(ct);
		for (size_t i = 0; i < w.n; i++) {
			bool seen = false;
			for (size_t k = 0; k < i && !seen; k++)
				seen = !strcmp(w.v[k].region, w.v[i].region);
			struct sign_public_key *keys = NULL;
			size_t n = 0;
			if (seen || sign_list(ct->sign, w.v[i].region, &keys, &n, NULL) < 0)
				continue;
			if (n && keys[n - 1].end == 0 &&
			    now - keys[n - 1].start >= (int64_t)ct->key_rotation)
				(void)sign_rotate(ct->sign, w.v[i].region, now, NULL);
			sign_public_keys_free(keys, n);
		}
	}
	wants_release(&w);
}

/* One round of the delivery thread: rotations asked for and due, then the
 * delivery, then the digests that are due (in that order, so that a
 * window's digest lists what was delivered up to its end). */
static void tick(struct ct *ct, bool deliveries)
{
	pthread_mutex_lock(&ct->wake_lock);
	char region[CT_REGION_MAX + 1];
	snprintf(region, sizeof region, "%s", ct->rotate_region);
	pthread_mutex_unlock(&ct->wake_lock);
	if (region[0]) {
		struct ct_err e;
		ct_err_clear(&e);
		int r = sign_rotate(ct->sign, region, ct_now(ct), &e);
		pthread_mutex_lock(&ct->wake_lock);
		ct->rotate_result = r;
		ct->rotate_err = e;
		ct->rotate_region[0] = '\0';
		pthread_mutex_unlock(&ct->wake_lock);
	}
	rotate_due(ct);
	(void)sync_digests(ct, NULL, true, NULL, NULL);
	if (!deliveries)
		return;
	deliver(ct, NULL);
	(void)sync_digests(ct, NULL, true, NULL, NULL);
}

static void *deliverer(void *p)
{
	struct ct *ct = p;
	/* Keys for the chains that run, and digests that came due while the
	 * daemon was down: at once, not after a delivery interval (the
	 * delivery itself keeps its interval). */
	(void)sync_digests(ct, NULL, true, NULL, NULL);
	pthread_mutex_lock(&ct->wake_lock);
	/* The next delivery is due at until; a digests-only round leaves it. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ct->delivery_interval;
	while (!ct->stopping) {
		bool timed_out = false;
		while (!ct->stopping && !ct->wake_now && !ct->wake_digests && !timed_out)
			timed_out = pthread_cond_timedwait(&ct->wake, &ct->wake_lock, &until) == ETIMEDOUT;
		if (ct->stopping)
			break;
		/* A waiter's round does not deliver: deliveries keep their
		 * interval (or their poke). */
		bool deliveries = timed_out || ct->wake_now;
		ct->wake_now = false;
		ct->wake_digests = false;
		uint64_t mine = ++ct->ticks_begun;
		pthread_mutex_unlock(&ct->wake_lock);
		ct_kms_tick(ct);
		tick(ct, deliveries);
		if (deliveries) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += ct->delivery_interval;
		}
		pthread_mutex_lock(&ct->wake_lock);
		ct->ticks_done = mine;
		pthread_cond_broadcast(&ct->tick_done);
	}
	/* Nobody waits for a round that will not come. */
	pthread_cond_broadcast(&ct->tick_done);
	pthread_mutex_unlock(&ct->wake_lock);
	return NULL;
}

int ct_start_delivery(struct ct *ct, ct_delivered_fn fn, void *ctx)
{
	ct->delivered = fn;
	ct->delivered_ctx = ctx;
	pthread_mutex_lock(&ct->wake_lock);
	ct->deliverer_running = true;
	pthread_mutex_unlock(&ct->wake_lock);
	int r = pthread_create(&ct->deliverer, NULL, deliverer, ct);
	if (r != 0) {
		pthread_mutex_lock(&ct->wake_lock);
		ct->deliverer_running = false;
		pthread_mutex_unlock(&ct->wake_lock);
		return -r;
	}
	return 0;
}

int ct_rotate_signing_key(struct ct *ct, const char *region, struct ct_err *err)
{
	if (!region || !ct_region_known(ct, region))
		return ct_fail(err, "InvalidParameterValueException",
			       "%.*s is not one of the configured regions (regions=)", CT_REGION_MAX,
			       region ? region : "");
	pthread_mutex_lock(&ct->rotate_lock);
	pthread_mutex_lock(&ct->wake_lock);
	bool thread = ct->deliverer_running && !ct->stopping;
	if (thread) {
		snprintf(ct->rotate_region, sizeof ct->rotate_region, "%s", region);
		ct->rotate_result = -ECANCELED;
		ct_err_clear(&ct->rotate_err);
	}
	pthread_mutex_unlock(&ct->wake_lock);
	int r;
	if (thread && run_on_deliverer(ct)) {
		pthread_mutex_lock(&ct->wake_lock);
		r = ct->rotate_result;
		if (r < 0 && err)
			*err = ct->rotate_err;
		pthread_mutex_unlock(&ct->wake_lock);
	} else {
		pthread_mutex_lock(&ct->wake_lock);
		ct->rotate_region[0] = '\0';
		pthread_mutex_unlock(&ct->wake_lock);
		r = sign_rotate(ct->sign, region, ct_now(ct), err);
	}
	pthread_mutex_unlock(&ct->rotate_lock);
	return r;
}

int ct_list_public_keys(struct ct *ct, const char *region, struct sign_public_key **keys,
			size_t *n, struct ct_err *err)
{
	*keys = NULL;
	*n = 0;
	if (!region || !ct_region_known(ct, region))
		return ct_fail(err, "InvalidParameterValueException",
			       "%.*s is not one of the configured regions (regions=)", CT_REGION_MAX,
			       region ? region : "");
	return sign_list(ct->sign, region, keys, n, err);
}

/* ListPublicKeys as a caller of /public-keys makes it. */
static void audit_list_public_keys(struct ct *ct, const struct ct_caller *who, const char *region,
				   const struct ct_err *err)
{
	if (!who)
		return;
	struct audit_call c = { .name = "ListPublicKeys", .read_only = true,
				.request = json_new_object(), .error = err };
	(void)region;
	audit_one(ct, who, &c);
}

int ct_public_keys_json(struct ct *ct, const struct ct_caller *who, const char *region,
			struct buf *out, struct ct_err *err)
{
	struct sign_public_key *keys = NULL;
	size_t n = 0;
	int r = ct_list_public_keys(ct, region, &keys, &n, err);
	json *doc = r == 0 ? json_new_object() : NULL;
	json *list = doc ? json_new_array() : NULL;
	if (list && json_add(doc, "PublicKeyList", list) < 0) {
		json_free(list);
		list = NULL;
	}
	if (r == 0 && !list)
		r = ct_fail_errno(err, ENOMEM, "public keys");
	struct buf b64;
	buf_init(&b64, 4096);
	for (size_t i = 0; r == 0 && i < n; i++) {
		json *k = json_new_object();
		buf_reset(&b64);
		r = k && json_append(list, k) == 0 ? 0 : -ENOMEM;
		if (r == 0) r = crypto_base64_encode(keys[i].der, keys[i].der_len, &b64);
		if (r == 0) r = json_add_string(k, "Value", buf_str(&b64));
		if (r == 0) r = json_add_number(k, "ValidityStartTime", (double)keys[i].start);
		if (r == 0 && keys[i].end)
			r = json_add_number(k, "ValidityEndTime", (double)keys[i].end);
		if (r == 0) r = json_add_string(k, "Fingerprint", keys[i].fingerprint);
		if (r < 0)
			r = ct_fail_errno(err, -r, "public keys");
	}
	buf_release(&b64);
	char *text = r == 0 ? json_print(doc, true) : NULL;
	if (r == 0 && !text)
		r = ct_fail_errno(err, ENOMEM, "public keys");
	if (r == 0 && (buf_puts(out, text) < 0 || buf_putc(out, '\n') < 0))
		r = ct_fail_errno(err, E2BIG, "public keys");
	free(text);
	json_free(doc);
	sign_public_keys_free(keys, n);
	audit_list_public_keys(ct, who, region, r < 0 ? err : NULL);
	return r;
}

int ct_public_key_pem(struct ct *ct, const struct ct_caller *who, const char *region,
		      const char *fingerprint, struct buf *out, struct ct_err *err)
{
	struct sign_public_key *keys = NULL;
	size_t n = 0;
	int r = ct_list_public_keys(ct, region, &keys, &n, err);
	size_t i = 0;
	while (r == 0 && i < n && strcmp(keys[i].fingerprint, fingerprint))
		i++;
	if (r == 0 && i == n) {
		ct_fail(err, "InvalidParameterValueException",
			"region %s has no public key with fingerprint %.40s", region, fingerprint);
		r = -ENOENT;
	}
	if (r == 0 && buf_puts(out, keys[i].pem) < 0)
		r = ct_fail_errno(err, E2BIG, "public key");
	sign_public_keys_free(keys, n);
	audit_list_public_keys(ct, who, region, r < 0 ? err : NULL);
	return r;
}

/* ---- delivered objects ---- */

/* The trail's bucket and "[PREFIX/]AWSLogs/ACCOUNT/FOLDER/". */
static int location(struct ct *ct, const char *trail, const char *folder,
		    char bucket[CT_BUCKET_NAME_MAX + 1], struct buf *prefix, struct ct_err *err)
{
	pthread_rwlock_rdlock(&ct->lock);
	ssize_t i = find_locked(ct, trail);
	int r = i < 0 ? trail_not_found(ct, trail, err) : 0;
	if (r == 0) {
		memcpy(bucket, ct->trails[i].bucket, CT_BUCKET_NAME_MAX + 1);
		r = buf_printf(prefix, "%s%sAWSLogs/%s/%s/", ct->trails[i].prefix,
			       *ct->trails[i].prefix ? "/" : "", ct->account, folder);
	}
	pthread_rwlock_unlock(&ct->lock);
	return r;
}

int ct_log_location(struct ct *ct, const char *trail, char bucket[CT_BUCKET_NAME_MAX + 1],
		    struct buf *prefix, struct ct_err *err)
{
	return location(ct, trail, "CloudTrail", bucket, prefix, err);
}

int ct_digest_location(struct ct *ct, const char *trail, char bucket[CT_BUCKET_NAME_MAX + 1],
		       struct buf *prefix, struct ct_err *err)
{
	return location(ct, trail, "CloudTrail-Digest", bucket, prefix, err);
}

int ct_list_objects(struct ct *ct, const char *bucket, const char *prefix,
		    struct store_listing *out)
{
	return ct->store->ops->object_list(ct->store, bucket, prefix, out);
}

int ct_get_object(struct ct *ct, const char *bucket, const char *key, struct buf *out,
		  struct store_object_info *info)
{
	return ct->store->ops->object_get(ct->store, bucket, key, out, info);
}

int ct_head_object(struct ct *ct, const char *bucket, const char *key,
		   struct store_object_info *info)
{
	return ct->store->ops->object_head(ct->store, bucket, key, info);
}

/* ---- the trail views ---- */

#define VIEW_DEPTH_FILE 5   /* REGION/YYYY/MM/DD/NAME */
#define VIEW_FILE_MAX (512u * 1024 * 1024)

void ct_view_entries_free(struct ct_view_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Depth of sub ("" is 0) and whether it is well-formed: no empty, "." or
 * ".." segments (names from outside never become keys unchecked). */
static int view_depth(const char *sub)
{
	if (!*sub)
		return 0;
	int depth = 1;
	const char *seg = sub;
	for (const char *p = sub;; p++) {
		if (*p == '/' || !*p) {
			size_t n = (size_t)(p - seg);
			if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && !strncmp(seg, "..", 2)))
				return -1;
			if (!*p)
				break;
			depth++;
			seg = p + 1;
		} else if ((unsigned char)*p < 0x20) {
			return -1;
		}
	}
	return depth;
}

/* What a view file's name ends with, and whether the view shows the
 * object decompressed (its name without ".gz"). */
static bool view_inflated(enum ct_view view)
{
	return view != CT_VIEW_RAW;
}

static const char *view_suffix(enum ct_view view)
{
	return view_inflated(view) ? ".json" : ".json.gz";
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && !strcmp(s + n - t, tail);
}

/* The bucket and key (or key prefix, for a directory) of sub. */
static int view_key(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		    int depth, char bucket[CT_BUCKET_NAME_MAX + 1], struct buf *key)
{
	int r = view == CT_VIEW_DIGESTS ? ct_digest_location(ct, trail, bucket, key, NULL)
					: ct_log_location(ct, trail, bucket, key, NULL);
	if (r == 0)
		r = buf_puts(key, sub);
	if (r == 0 && depth == VIEW_DEPTH_FILE && view_inflated(view))
		r = buf_puts(key, ".gz");
	else if (r == 0 && depth > 0 && depth < VIEW_DEPTH_FILE)
		r = buf_putc(key, '/');
	return r == -E2BIG ? -ENAMETOOLONG : r;
}

static const char *last_segment(const char *s, size_t trim)
{
	size_t n = strlen(s) - trim;
	while (n > 0 && s[n - 1] != '/')
		n--;
	return s + n;
}

int ct_view_list(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		 struct ct_view_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	int depth = view_depth(sub);
	if (depth < 0)
		return -ENOENT;
	if (depth >= VIEW_DEPTH_FILE)
		return -ENOTDIR;
	char bucket[CT_BUCKET_NAME_MAX + 1];
	struct buf key;
	buf_init(&key, 2048);
	int r = view_key(ct, trail, view, sub, depth, bucket, &key);
	struct store_listing l;
	memset(&l, 0, sizeof l);
	if (r == 0)
		r = ct_list_objects(ct, bucket, key.data, &l);
	if (r == -ENOENT && depth == 0)
		r = 0;   /* no bucket (yet): an empty view */
	/* Directories hold the next level's prefixes; the deepest holds files. */
	size_t cap = l.n_prefixes + l.n_keys;
	struct ct_view_entry *v = r == 0 ? calloc(cap + 1, sizeof *v) : NULL;
	if (r == 0 && !v)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < l.n_prefixes && depth < VIEW_DEPTH_FILE - 1; i++) {
		v[*n].dir = true;
		v[*n].name = strndup(last_segment(l.prefixes[i], 1),
				     strlen(last_segment(l.prefixes[i], 1)) - 1);
		r = v[(*n)++].name ? 0 : -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < l.n_keys && depth == VIEW_DEPTH_FILE - 1; i++) {
		const char *base = last_segment(l.keys[i], 0);
		if (!ends_with(base, ".json.gz"))
			continue;
		size_t len = strlen(base) - (view_inflated(view) ? 3 : 0);
		v[*n].dir = false;
		v[*n].name = strndup(base, len);
		r = v[(*n)++].name ? 0 : -ENOMEM;
	}
	store_listing_release(&l);
	buf_release(&key);
	if (r == 0 && *n == 0 && depth > 0)
		r = -ENOENT;
	if (r < 0) {
		ct_view_entries_free(v, *n);
		*n = 0;
		return r;
	}
	*out = v;
	return 0;
}

static int view_sink(void *arg, const void *p, size_t n)
{
	return buf_add(arg, p, n);
}

/* What a view shows of a gzip object: for a log file its records one per
 * line, for a digest its inflated bytes as they are. */
static int view_text(enum ct_view view, const struct buf *obj, struct buf *out)
{
	if (view == CT_VIEW_DIGESTS) {
		/* As validate-logs reads a digest (zlib, gzip framing): the
		 * first member, whatever follows it; a member cut short or
		 * damaged is an error. */
		struct gz_stream_info info;
		int r = gz_inflate_first_member(obj->data, obj->len, view_sink, out, &info);
		if (r == 0 && !info.complete)
			r = -EINVAL;
		return r == -EINVAL || r == -E2BIG ? -EIO : r;
	}
	struct buf json;
	buf_init(&json, VIEW_FILE_MAX);
	int r = gz_decompress(obj->data, obj->len, VIEW_FILE_MAX, &json);
	if (r == 0)
		r = delivery_lines(json.data, json.len, out);
	buf_release(&json);
	return r == -EINVAL ? -EIO : r;
}

int ct_view_stat(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		 bool *dir, uint64_t *size, int64_t *mtime)
{
	int depth = view_depth(sub);
	if (depth < 0)
		return -ENOENT;
	*size = 0;
	*mtime = 0;
	if (depth < VIEW_DEPTH_FILE) {
		*dir = true;
		if (depth == 0)
			return ct_trail_exists(ct, trail) ? 0 : -ENOENT;
		struct ct_view_entry *v;
		size_t n;
		int r = ct_view_list(ct, trail, view, sub, &v, &n);
		ct_view_entries_free(v, n);
		return r;
	}
	*dir = false;
	if (!ends_with(sub, view_suffix(view)) || (view_inflated(view) && ends_with(sub, ".gz")))
		return -ENOENT;
	char bucket[CT_BUCKET_NAME_MAX + 1];
	struct buf key;
	buf_init(&key, 2048);
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	int r = view_key(ct, trail, view, sub, depth, bucket, &key);
	if (r == 0)
		r = ct_head_object(ct, bucket, key.data, &info);
	if (r == 0) {
		*mtime = info.mtime;
		*size = info.size;
		const char *lines = store_meta_get(&info, META_LINES_SIZE);
		int64_t plain = ct_kms_plain_len(&info);
		if (view == CT_VIEW_RAW && plain >= 0) {
			*size = (uint64_t)plain;   /* raw/ shows the decrypted bytes */
		} else if (view == CT_VIEW_LOGS && lines) {
			*size = strtoull(lines, NULL, 10);
		} else if (view_inflated(view)) {
			/* Not a log file of ours (or a digest, whose text is
			 * small): decompress to know. */
			struct buf obj, text;
			buf_init(&obj, VIEW_FILE_MAX);
			buf_init(&text, VIEW_FILE_MAX);
			r = ct_get_object(ct, bucket, key.data, &obj, NULL);
			if (r == 0)
				r = view_text(view, &obj, &text);
			*size = text.len;
			/* A damaged object is still there: it lists, and
			 * reading it fails with EIO. */
			if (r == -EIO) {
				*size = info.size;
				r = 0;
			}
			buf_release(&obj);
			buf_release(&text);
		}
	}
	store_object_info_release(&info);
	buf_release(&key);
	return r;
}

/* GetObject's data event: the object and its bucket as resources, the
 * bytes sent as bytesTransferredOut; with the Decrypt an encrypted object
 * needed (decrypt->name set), both spooled with one sync. */
static void audit_get_object(struct ct *ct, const struct ct_caller *who, const char *bucket,
			     const char *key, size_t bytes, struct audit_call *decrypt)
{
	struct audit_call c = { .name = "GetObject", .read_only = true,
				.request = request_naming(ct, "GetObject", bucket),
				.additional = json_new_object(),
				.bucket = bucket, .key = key };
	int r = c.request && c.additional ? 0 : -ENOMEM;
	if (r == 0) r = json_add_string(c.request, "key", key);
	if (r == 0) r = json_add_number(c.additional, "bytesTransferredIn", 0);
	if (r == 0) r = json_add_number(c.additional, "bytesTransferredOut", (double)bytes);
	struct audit_batch b;
	audit_init(&b, who);
	audit_add(ct, &b, &c);
	if (decrypt && decrypt->name)
		audit_add(ct, &b, decrypt);
	audit_flush(ct, &b);
}

int ct_view_read(struct ct *ct, const struct ct_caller *who, const char *trail,
		 enum ct_view view, const char *sub, struct buf *out, struct ct_err *err)
{
	int depth = view_depth(sub);
	if (depth < 0)
		return -ENOENT;
	if (depth < VIEW_DEPTH_FILE)
		return -EISDIR;
	char bucket[CT_BUCKET_NAME_MAX + 1];
	struct buf key, obj;
	buf_init(&key, 2048);
	buf_init(&obj, VIEW_FILE_MAX);
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	int r = view_key(ct, trail, view, sub, depth, bucket, &key);
	if (r == 0)
		r = ct_get_object(ct, bucket, key.data, &obj, &info);
	/* An encrypted log file is decrypted (whole, its tag verified) for a
	 * caller its key's policy allows, before anything is shown; digests
	 * are never encrypted. */
	bool sealed = r == 0 && view != CT_VIEW_DIGESTS && ct_kms_plain_len(&info) >= 0;
	struct audit_call decrypt = { .name = NULL };
	char decrypt_arn[KEYRING_ARN_MAX];
	if (r == 0 && view != CT_VIEW_DIGESTS)
		r = ct_kms_open_object(ct, who, &info, &obj, &decrypt, decrypt_arn, err);
	if (r == 0)
		audit_get_object(ct, who, bucket, key.data, obj.len, &decrypt);
	if (r == 0 && view_inflated(view))
		r = view_text(view, &obj, out);
	else if (r == 0)
		r = buf_add(out, obj.data, obj.len);
	if (sealed)
		crypto_wipe(obj.data, obj.len);
	store_object_info_release(&info);
	buf_release(&obj);
	buf_release(&key);
	return r;
}

int ct_view_integrity(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		      enum integrity *out, char *why, size_t why_size)
{
	*out = INTEGRITY_UNKNOWN;
	if (why_size)
		why[0] = '\0';
	if (view == CT_VIEW_DIGESTS)
		return -EINVAL;
	int depth = view_depth(sub);
	if (depth < 0)
		return -ENOENT;
	if (depth < VIEW_DEPTH_FILE)
		return -EISDIR;
	char bucket[CT_BUCKET_NAME_MAX + 1], dbucket[CT_BUCKET_NAME_MAX + 1];
	char region[CT_REGION_MAX + 1], home[CT_REGION_MAX + 1];
	snprintf(region, sizeof region, "%.*s", (int)strcspn(sub, "/"), sub);
	struct buf key, dprefix;
	buf_init(&key, 2048);
	buf_init(&dprefix, 2048);
	int r = view_key(ct, trail, view, sub, depth, bucket, &key);
	if (r == 0)
		r = ct_digest_location(ct, trail, dbucket, &dprefix, NULL);
	if (r == 0) {
		pthread_rwlock_rdlock(&ct->lock);
		ssize_t i = find_locked(ct, trail);
		snprintf(home, sizeof home, "%s", i < 0 ? ct->region : ct->trails[i].home_region);
		pthread_rwlock_unlock(&ct->lock);
	}
	struct sign_public_key *pk = NULL;
	size_t n_pk = 0;
	struct verify_keys keys;
	verify_keys_init(&keys);
	struct verify_source src = { 0 };
	if (r == 0 && ct_list_public_keys(ct, region, &pk, &n_pk, NULL) == 0)
		for (size_t i = 0; r == 0 && i < n_pk; i++)
			r = verify_keys_add(&keys, pk[i].fingerprint, pk[i].der, pk[i].der_len,
					    pk[i].start, pk[i].end);
	/* An encrypted log file's digest hashes its plaintext, and the check
	 * reads the store, which holds ciphertext: not decided here (through
	 * the tree, raw/ decrypts, and trailfs validate on the mount sees it). */
	struct store_object_info info;
	memset(&info, 0, sizeof info);
	bool sealed = r == 0 && ct_head_object(ct, bucket, key.data, &info) == 0 &&
		      ct_kms_plain_len(&info) >= 0;
	store_object_info_release(&info);
	if (sealed) {
		if (why_size)
			snprintf(why, why_size, "the object is encrypted; integrity is not "
				 "checked for encrypted log files");
		r = 1;
	}
	if (r == 0)
		r = verify_source_store(ct->store, &src);
	if (r == 0) {
		struct integrity_place place = { bucket, key.data, dprefix.data, home };
		*out = integrity_check(&src, &keys, &place, why, why_size);
		verify_source_free(&src);
	}
	verify_keys_release(&keys);
	sign_public_keys_free(pk, n_pk);
	buf_release(&dprefix);
	buf_release(&key);
	return r == 1 ? 0 : r;
}

int ct_view_head(struct ct *ct, const char *trail, enum ct_view view, const char *sub,
		 struct store_object_info *info)
{
	memset(info, 0, sizeof *info);
	int depth = view_depth(sub);
	if (depth < 0)
		return -ENOENT;
	if (depth < VIEW_DEPTH_FILE)
		return -EISDIR;
	if (!ends_with(sub, view_suffix(view)) || (view_inflated(view) && ends_with(sub, ".gz")))
		return -ENOENT;
	char bucket[CT_BUCKET_NAME_MAX + 1];
	struct buf key;
	buf_init(&key, 2048);
	int r = view_key(ct, trail, view, sub, depth, bucket, &key);
	if (r == 0)
		r = ct_head_object(ct, bucket, key.data, info);
	buf_release(&key);
	return r;
}
